-- The thank-you page tells a member who started a free trial that the trial began, not that a
-- payment went through (issue 14): `trial_granting` when the trial grants its role now,
-- `trial_started` when it grants none until the first payment.

alter table rolepass.checkout_attempts
  drop constraint checkout_attempts_completion_check,
  add constraint checkout_attempts_completion_check
    check (completion in ('granting', 'processing', 'trial_granting', 'trial_started'));
