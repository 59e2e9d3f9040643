
export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[]

export type Database = {
  
  "rolepass": {
          Tables: {
            "checkout_attempts": {
                  Row: {
                    "completion": string | null,"created_at": string,"id": string,"kind": string,"link_token_id": string | null,"locale": string | null,"membership_id": string,"plan_id": string | null,"status": string,"stripe_checked_at": string | null,"stripe_session_id": string,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "completion"?: string | null,"created_at"?: string,"id"?: string,"kind": string,"link_token_id"?: string | null,"locale"?: string | null,"membership_id": string,"plan_id"?: string | null,"status"?: string,"stripe_checked_at"?: string | null,"stripe_session_id": string,"updated_at"?: string
                  }
                  Update: {
                    "completion"?: string | null,"created_at"?: string,"id"?: string,"kind"?: string,"link_token_id"?: string | null,"locale"?: string | null,"membership_id"?: string,"plan_id"?: string | null,"status"?: string,"stripe_checked_at"?: string | null,"stripe_session_id"?: string,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "checkout_attempts_link_token_id_fkey"
      columns: ["link_token_id"]
isOneToOne: false
      referencedRelation: "link_tokens"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "checkout_attempts_membership_id_fkey"
      columns: ["membership_id"]
isOneToOne: false
      referencedRelation: "memberships"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "checkout_attempts_plan_id_fkey"
      columns: ["plan_id"]
isOneToOne: false
      referencedRelation: "plans"
      referencedColumns: ["id"]
    }
                  ]
                },"closed_period_figures": {
                  Row: {
                    "active_at_month_end": number | null,"cancellations": number,"currency": string,"disputes": number,"fact_month": string,"gross": number,"guild_id": string,"month": string,"mrr": number | null,"net": number,"plan_id": string,"plan_name": string | null,"refunds": number,"row_kind": string,"starts": number,"stripe_price_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "active_at_month_end"?: number | null,"cancellations": number,"currency": string,"disputes": number,"fact_month": string,"gross": number,"guild_id": string,"month": string,"mrr"?: number | null,"net": number,"plan_id": string,"plan_name"?: string | null,"refunds": number,"row_kind": string,"starts": number,"stripe_price_id": string
                  }
                  Update: {
                    "active_at_month_end"?: number | null,"cancellations"?: number,"currency"?: string,"disputes"?: number,"fact_month"?: string,"gross"?: number,"guild_id"?: string,"month"?: string,"mrr"?: number | null,"net"?: number,"plan_id"?: string,"plan_name"?: string | null,"refunds"?: number,"row_kind"?: string,"starts"?: number,"stripe_price_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "closed_period_figures_guild_id_month_fkey"
      columns: ["guild_id","month"]
isOneToOne: false
      referencedRelation: "closed_periods"
      referencedColumns: ["guild_id","month"]
    }
                  ]
                },"closed_periods": {
                  Row: {
                    "closed_at": string,"guild_id": string,"month": string,"time_zone": string
                  }
                  ComputedFields: never
                  Insert: {
                    "closed_at"?: string,"guild_id": string,"month": string,"time_zone": string
                  }
                  Update: {
                    "closed_at"?: string,"guild_id"?: string,"month"?: string,"time_zone"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "closed_periods_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"discord_global_rate_limit": {
                  Row: {
                    "blocked_until": string | null,"id": boolean,"in_flight": (string)[],"sent_at": (string)[]
                  }
                  ComputedFields: never
                  Insert: {
                    "blocked_until"?: string | null,"id"?: boolean,"in_flight"?: (string)[],"sent_at"?: (string)[]
                  }
                  Update: {
                    "blocked_until"?: string | null,"id"?: boolean,"in_flight"?: (string)[],"sent_at"?: (string)[]
                  }
                  Relationships: [
                    
                  ]
                },"discord_rate_limits": {
                  Row: {
                    "bucket": string | null,"remaining": number,"request_limit": number | null,"reset_at": string,"route_key": string,"updated_at": string,"window_seconds": number | null
                  }
                  ComputedFields: never
                  Insert: {
                    "bucket"?: string | null,"remaining": number,"request_limit"?: number | null,"reset_at": string,"route_key": string,"updated_at"?: string,"window_seconds"?: number | null
                  }
                  Update: {
                    "bucket"?: string | null,"remaining"?: number,"request_limit"?: number | null,"reset_at"?: string,"route_key"?: string,"updated_at"?: string,"window_seconds"?: number | null
                  }
                  Relationships: [
                    
                  ]
                },"guild_reconciliations": {
                  Row: {
                    "alerted_at": string | null,"comped": number,"findings": NonNullable<Json>,"finished_at": string | null,"guild_id": string,"last_error": string | null,"members_checked": number,"missing_roles": number,"mode": string | null,"next_run_at": string,"repairs_queued": number,"resume_after": string | null,"started_at": string | null,"status": string,"unpaid_roles": number,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "alerted_at"?: string | null,"comped"?: number,"findings"?: NonNullable<Json>,"finished_at"?: string | null,"guild_id": string,"last_error"?: string | null,"members_checked"?: number,"missing_roles"?: number,"mode"?: string | null,"next_run_at": string,"repairs_queued"?: number,"resume_after"?: string | null,"started_at"?: string | null,"status"?: string,"unpaid_roles"?: number,"updated_at"?: string
                  }
                  Update: {
                    "alerted_at"?: string | null,"comped"?: number,"findings"?: NonNullable<Json>,"finished_at"?: string | null,"guild_id"?: string,"last_error"?: string | null,"members_checked"?: number,"missing_roles"?: number,"mode"?: string | null,"next_run_at"?: string,"repairs_queued"?: number,"resume_after"?: string | null,"started_at"?: string | null,"status"?: string,"unpaid_roles"?: number,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "guild_reconciliations_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: true
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"guilds": {
                  Row: {
                    "accounting_time_zone": string,"created_at": string,"default_locale": string,"dispute_policy": string,"id": string,"name": string,"operator_log_channel_id": string | null,"past_due_grace": string,"reconcile_interval": string,"refund_policy": string,"refund_window": string,"revoke_on_dispute": boolean,"revoke_on_refund": boolean,"role_drift_policy": string,"seller_notice": NonNullable<Json>,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "accounting_time_zone"?: string,"created_at"?: string,"default_locale"?: string,"dispute_policy": string,"id": string,"name": string,"operator_log_channel_id"?: string | null,"past_due_grace"?: string,"reconcile_interval"?: string,"refund_policy": string,"refund_window"?: string,"revoke_on_dispute"?: boolean,"revoke_on_refund"?: boolean,"role_drift_policy"?: string,"seller_notice"?: NonNullable<Json>,"updated_at"?: string
                  }
                  Update: {
                    "accounting_time_zone"?: string,"created_at"?: string,"default_locale"?: string,"dispute_policy"?: string,"id"?: string,"name"?: string,"operator_log_channel_id"?: string | null,"past_due_grace"?: string,"reconcile_interval"?: string,"refund_policy"?: string,"refund_window"?: string,"revoke_on_dispute"?: boolean,"revoke_on_refund"?: boolean,"role_drift_policy"?: string,"seller_notice"?: NonNullable<Json>,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"handled_interactions": {
                  Row: {
                    "handled_at": string,"id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "handled_at"?: string,"id": string
                  }
                  Update: {
                    "handled_at"?: string,"id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"interaction_tokens": {
                  Row: {
                    "application_id": string,"created_at": string,"discord_user_id": string,"expires_at": string,"guild_id": string,"token": string
                  }
                  ComputedFields: never
                  Insert: {
                    "application_id": string,"created_at"?: string,"discord_user_id": string,"expires_at": string,"guild_id": string,"token": string
                  }
                  Update: {
                    "application_id"?: string,"created_at"?: string,"discord_user_id"?: string,"expires_at"?: string,"guild_id"?: string,"token"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "interaction_tokens_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"link_tokens": {
                  Row: {
                    "created_at": string,"discord_user_id": string,"expires_at": string,"guild_id": string,"id": string,"locale": string,"purpose": string,"token_hash": string,"used_at": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"discord_user_id": string,"expires_at": string,"guild_id": string,"id"?: string,"locale": string,"purpose": string,"token_hash": string,"used_at"?: string | null
                  }
                  Update: {
                    "created_at"?: string,"discord_user_id"?: string,"expires_at"?: string,"guild_id"?: string,"id"?: string,"locale"?: string,"purpose"?: string,"token_hash"?: string,"used_at"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "link_tokens_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"membership_history": {
                  Row: {
                    "cause": string,"changed_at": string,"discord_user_id": string,"guild_id": string,"id": number,"membership_id": string,"new_entitled": boolean | null,"new_plan_id": string | null,"new_row": Json | null,"new_status": string | null,"old_entitled": boolean | null,"old_plan_id": string | null,"old_row": Json | null,"old_status": string | null,"operation": string,"stripe_event_id": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "cause": string,"changed_at"?: string,"discord_user_id": string,"guild_id": string,"id"?: never,"membership_id": string,"new_entitled"?: boolean | null,"new_plan_id"?: string | null,"new_row"?: Json | null,"new_status"?: string | null,"old_entitled"?: boolean | null,"old_plan_id"?: string | null,"old_row"?: Json | null,"old_status"?: string | null,"operation": string,"stripe_event_id"?: string | null
                  }
                  Update: {
                    "cause"?: string,"changed_at"?: string,"discord_user_id"?: string,"guild_id"?: string,"id"?: never,"membership_id"?: string,"new_entitled"?: boolean | null,"new_plan_id"?: string | null,"new_row"?: Json | null,"new_status"?: string | null,"old_entitled"?: boolean | null,"old_plan_id"?: string | null,"old_row"?: Json | null,"old_status"?: string | null,"operation"?: string,"stripe_event_id"?: string | null
                  }
                  Relationships: [
                    
                  ]
                },"memberships": {
                  Row: {
                    "cancel_at": string | null,"cancel_at_period_end": boolean,"change_cause": string,"change_event_id": string | null,"created_at": string,"current_period_end": string | null,"deleted_at": string | null,"discord_user_id": string,"entitled": boolean,"entitled_role_id": string | null,"entitled_until": string | null,"guild_id": string,"id": string,"locale": string,"past_due_since": string | null,"plan_id": string | null,"revoked_reason": string | null,"status": string | null,"stripe_customer_id": string | null,"stripe_subscription_id": string | null,"stripe_synced_at": string | null,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "cancel_at"?: string | null,"cancel_at_period_end"?: boolean,"change_cause"?: string,"change_event_id"?: string | null,"created_at"?: string,"current_period_end"?: string | null,"deleted_at"?: string | null,"discord_user_id": string,"entitled"?: boolean,"entitled_role_id"?: string | null,"entitled_until"?: string | null,"guild_id": string,"id"?: string,"locale"?: string,"past_due_since"?: string | null,"plan_id"?: string | null,"revoked_reason"?: string | null,"status"?: string | null,"stripe_customer_id"?: string | null,"stripe_subscription_id"?: string | null,"stripe_synced_at"?: string | null,"updated_at"?: string
                  }
                  Update: {
                    "cancel_at"?: string | null,"cancel_at_period_end"?: boolean,"change_cause"?: string,"change_event_id"?: string | null,"created_at"?: string,"current_period_end"?: string | null,"deleted_at"?: string | null,"discord_user_id"?: string,"entitled"?: boolean,"entitled_role_id"?: string | null,"entitled_until"?: string | null,"guild_id"?: string,"id"?: string,"locale"?: string,"past_due_since"?: string | null,"plan_id"?: string | null,"revoked_reason"?: string | null,"status"?: string | null,"stripe_customer_id"?: string | null,"stripe_subscription_id"?: string | null,"stripe_synced_at"?: string | null,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "memberships_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "memberships_plan_id_fkey"
      columns: ["plan_id"]
isOneToOne: false
      referencedRelation: "plans"
      referencedColumns: ["id"]
    }
                  ]
                },"money_ledger": {
                  Row: {
                    "amount": number,"currency": string,"dispute_status": string | null,"fact_month": string,"guild_id": string,"id": number,"is_adjustment": boolean | null,"kind": string,"occurred_at": string,"period_month": string,"plan_id": string,"recorded_at": string,"starts_subscription": boolean,"stripe_charge_id": string | null,"stripe_customer_id": string | null,"stripe_event_id": string | null,"stripe_invoice_id": string | null,"stripe_object_id": string,"stripe_price_id": string,"stripe_subscription_id": string | null
                  }
                  ComputedFields: never
                  Insert: {
                    "amount": number,"currency": string,"dispute_status"?: string | null,"fact_month": string,"guild_id": string,"id"?: never,"is_adjustment"?: never,"kind": string,"occurred_at": string,"period_month": string,"plan_id": string,"recorded_at"?: string,"starts_subscription"?: boolean,"stripe_charge_id"?: string | null,"stripe_customer_id"?: string | null,"stripe_event_id"?: string | null,"stripe_invoice_id"?: string | null,"stripe_object_id": string,"stripe_price_id": string,"stripe_subscription_id"?: string | null
                  }
                  Update: {
                    "amount"?: number,"currency"?: string,"dispute_status"?: string | null,"fact_month"?: string,"guild_id"?: string,"id"?: never,"is_adjustment"?: never,"kind"?: string,"occurred_at"?: string,"period_month"?: string,"plan_id"?: string,"recorded_at"?: string,"starts_subscription"?: boolean,"stripe_charge_id"?: string | null,"stripe_customer_id"?: string | null,"stripe_event_id"?: string | null,"stripe_invoice_id"?: string | null,"stripe_object_id"?: string,"stripe_price_id"?: string,"stripe_subscription_id"?: string | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "money_ledger_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"plans": {
                  Row: {
                    "active": boolean,"billing_interval": string,"created_at": string,"currency": string,"discord_role_id": string,"display": NonNullable<Json>,"guild_id": string,"id": string,"interval_count": number,"sort_order": number,"stripe_price_id": string,"unit_amount": number,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "active"?: boolean,"billing_interval": string,"created_at"?: string,"currency": string,"discord_role_id": string,"display": NonNullable<Json>,"guild_id": string,"id"?: string,"interval_count"?: number,"sort_order"?: number,"stripe_price_id": string,"unit_amount": number,"updated_at"?: string
                  }
                  Update: {
                    "active"?: boolean,"billing_interval"?: string,"created_at"?: string,"currency"?: string,"discord_role_id"?: string,"display"?: NonNullable<Json>,"guild_id"?: string,"id"?: string,"interval_count"?: number,"sort_order"?: number,"stripe_price_id"?: string,"unit_amount"?: number,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "plans_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"refund_dispute_outcomes": {
                  Row: {
                    "amount": number,"currency": string,"decided_at": string,"guild_id": string,"membership_id": string,"policy": string,"role_effect": string,"stage": string,"stripe_charge_id": string,"stripe_event_id": string,"stripe_object_id": string,"stripe_subscription_id": string | null,"subscription_canceled": boolean
                  }
                  ComputedFields: never
                  Insert: {
                    "amount": number,"currency": string,"decided_at"?: string,"guild_id": string,"membership_id": string,"policy": string,"role_effect": string,"stage": string,"stripe_charge_id": string,"stripe_event_id": string,"stripe_object_id": string,"stripe_subscription_id"?: string | null,"subscription_canceled": boolean
                  }
                  Update: {
                    "amount"?: number,"currency"?: string,"decided_at"?: string,"guild_id"?: string,"membership_id"?: string,"policy"?: string,"role_effect"?: string,"stage"?: string,"stripe_charge_id"?: string,"stripe_event_id"?: string,"stripe_object_id"?: string,"stripe_subscription_id"?: string | null,"subscription_canceled"?: boolean
                  }
                  Relationships: [
                    {
      foreignKeyName: "refund_dispute_outcomes_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "refund_dispute_outcomes_membership_id_fkey"
      columns: ["membership_id"]
isOneToOne: false
      referencedRelation: "memberships"
      referencedColumns: ["id"]
    }
                  ]
                },"role_comps": {
                  Row: {
                    "created_at": string,"discord_role_id": string,"discord_user_id": string,"expires_at": string | null,"guild_id": string,"reason": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"discord_role_id": string,"discord_user_id": string,"expires_at"?: string | null,"guild_id": string,"reason": string
                  }
                  Update: {
                    "created_at"?: string,"discord_role_id"?: string,"discord_user_id"?: string,"expires_at"?: string | null,"guild_id"?: string,"reason"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "role_comps_guild_id_fkey"
      columns: ["guild_id"]
isOneToOne: false
      referencedRelation: "guilds"
      referencedColumns: ["id"]
    }
                  ]
                },"role_job_claim_cursor": {
                  Row: {
                    "id": boolean,"last_guild_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "id"?: boolean,"last_guild_id"?: string
                  }
                  Update: {
                    "id"?: boolean,"last_guild_id"?: string
                  }
                  Relationships: [
                    
                  ]
                },"role_jobs": {
                  Row: {
                    "alerted_at": string | null,"attempts": number,"cause": string,"claim_id": string | null,"created_at": string,"discord_user_id": string,"done_at": string | null,"entitled": boolean,"guild_id": string,"id": number,"last_error": string | null,"lease_expires_at": string | null,"membership_id": string,"next_attempt_at": string,"notice_status": string | null,"notified_at": string | null,"outcome": string | null,"previous_role_id": string | null,"role_id": string | null,"roles_applied_at": string | null,"roles_applied_role_id": string | null,"status": string,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "alerted_at"?: string | null,"attempts"?: number,"cause": string,"claim_id"?: string | null,"created_at"?: string,"discord_user_id": string,"done_at"?: string | null,"entitled": boolean,"guild_id": string,"id"?: never,"last_error"?: string | null,"lease_expires_at"?: string | null,"membership_id": string,"next_attempt_at"?: string,"notice_status"?: string | null,"notified_at"?: string | null,"outcome"?: string | null,"previous_role_id"?: string | null,"role_id"?: string | null,"roles_applied_at"?: string | null,"roles_applied_role_id"?: string | null,"status"?: string,"updated_at"?: string
                  }
                  Update: {
                    "alerted_at"?: string | null,"attempts"?: number,"cause"?: string,"claim_id"?: string | null,"created_at"?: string,"discord_user_id"?: string,"done_at"?: string | null,"entitled"?: boolean,"guild_id"?: string,"id"?: never,"last_error"?: string | null,"lease_expires_at"?: string | null,"membership_id"?: string,"next_attempt_at"?: string,"notice_status"?: string | null,"notified_at"?: string | null,"outcome"?: string | null,"previous_role_id"?: string | null,"role_id"?: string | null,"roles_applied_at"?: string | null,"roles_applied_role_id"?: string | null,"status"?: string,"updated_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "role_jobs_membership_id_fkey"
      columns: ["membership_id"]
isOneToOne: false
      referencedRelation: "memberships"
      referencedColumns: ["id"]
    }
                  ]
                },"stripe_events": {
                  Row: {
                    "api_version": string | null,"attempts": number,"id": string,"ignored": boolean,"ignored_reason": string | null,"last_error": string | null,"livemode": boolean,"processed_at": string | null,"received_at": string,"type": string
                  }
                  ComputedFields: never
                  Insert: {
                    "api_version"?: string | null,"attempts"?: number,"id": string,"ignored"?: boolean,"ignored_reason"?: string | null,"last_error"?: string | null,"livemode"?: boolean,"processed_at"?: string | null,"received_at"?: string,"type": string
                  }
                  Update: {
                    "api_version"?: string | null,"attempts"?: number,"id"?: string,"ignored"?: boolean,"ignored_reason"?: string | null,"last_error"?: string | null,"livemode"?: boolean,"processed_at"?: string | null,"received_at"?: string,"type"?: string
                  }
                  Relationships: [
                    
                  ]
                },"stripe_subscription_revocations": {
                  Row: {
                    "covers_period_end": string | null,"lifted_at": string | null,"lifted_event_id": string | null,"membership_id": string,"reason": string,"revoked_at": string,"status": string,"stripe_event_id": string,"stripe_object_id": string,"stripe_subscription_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "covers_period_end"?: string | null,"lifted_at"?: string | null,"lifted_event_id"?: string | null,"membership_id": string,"reason": string,"revoked_at"?: string,"status"?: string,"stripe_event_id": string,"stripe_object_id": string,"stripe_subscription_id": string
                  }
                  Update: {
                    "covers_period_end"?: string | null,"lifted_at"?: string | null,"lifted_event_id"?: string | null,"membership_id"?: string,"reason"?: string,"revoked_at"?: string,"status"?: string,"stripe_event_id"?: string,"stripe_object_id"?: string,"stripe_subscription_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "stripe_subscription_revocations_membership_id_fkey"
      columns: ["membership_id"]
isOneToOne: false
      referencedRelation: "memberships"
      referencedColumns: ["id"]
    }
                  ]
                }
          }
          Views: {
            "role_job_queue_status": {
                  Row: {
                    "failed": number | null,"failing": number | null,"oldest_open_age": string | null,"oldest_open_at": string | null,"pending": number | null,"running": number | null
                  }
                  ComputedFields: never
                  Relationships: [
                    
                  ]
                }
          }
          Functions: {
            "acquire_discord_slot":
{ Args: { "global_limit": number,"global_window_ms": number,"key": string,"max_in_flight_ms": number,"use_global": boolean }; Returns: {
              "taken_at": string,"wait_ms": number
            }[]
                           },
"begin_role_job_alert":
{ Args: { "job_id": number }; Returns: boolean
                           },
"begin_role_job_notice":
{ Args: { "claim": string,"job_id": number }; Returns: boolean
                           },
"claim_role_jobs":
{ Args: { "lease_seconds": number,"max_jobs": number }; Returns: {
              "alerted_at": string | null,
"attempts": number,
"cause": string,
"claim_id": string | null,
"created_at": string,
"discord_user_id": string,
"done_at": string | null,
"entitled": boolean,
"guild_id": string,
"id": number,
"last_error": string | null,
"lease_expires_at": string | null,
"membership_id": string,
"next_attempt_at": string,
"notice_status": string | null,
"notified_at": string | null,
"outcome": string | null,
"previous_role_id": string | null,
"role_id": string | null,
"roles_applied_at": string | null,
"roles_applied_role_id": string | null,
"status": string,
"updated_at": string
            }[]
                          SetofOptions: {
        from: "*"
        to: "role_jobs"
        isOneToOne: false
        isSetofReturn: true
      } },
"close_period":
{ Args: { "closing_guild_id": string,"closing_month": string }; Returns: {
              "detail": string,"outcome": string
            }[]
                           },
"delete_expired_tokens":
{ Args: Record<PropertyKey, never>; Returns: undefined
                           },
"dispute_status_rank":
{ Args: { "status": string }; Returns: number
                           },
"end_role_job_notice":
{ Args: { "job_id": number,"result": string }; Returns: undefined
                           },
"enqueue_role_repairs":
{ Args: { "max_jobs": number,"repairs": Json,"spacing_ms": number,"target_guild_id": string }; Returns: number
                           },
"expire_entitlements":
{ Args: { "max_rows"?: number }; Returns: number
                           },
"finish_role_job":
{ Args: { "claim": string,"error"?: string,"final_status": string,"job_id": number,"job_outcome": string }; Returns: boolean
                           },
"is_time_zone":
{ Args: { "zone": string }; Returns: boolean
                           },
"open_subscribe_link":
{ Args: { "application_id": string,"discord_user_id": string,"guild_id": string,"interaction_id": string,"interaction_token": string,"link_token_hash": string,"link_token_ttl_seconds": number,"locale": string,"member_role_ids": (string)[] }; Returns: Json
                           },
"prune_retained_rows":
{ Args: { "batch_size"?: number }; Returns: Json
                           },
"record_discord_rate_limit":
{ Args: { "answered_after_ms": number,"bucket_id": string,"global_taken_at": string,"is_global": boolean,"key": string,"remaining": number,"request_limit": number,"reset_after_ms": number,"retry_after_ms": number }; Returns: undefined
                           },
"record_role_job_roles_applied":
{ Args: { "applied_role_id": string,"claim": string,"job_id": number }; Returns: boolean
                           },
"request_reconciliation":
{ Args: { "target_guild_id": string }; Returns: number
                           },
"request_role_sync":
{ Args: { "payload": Json }; Returns: number
                           },
"retry_failed_role_jobs":
{ Args: { "only_guild_id"?: string }; Returns: number
                           },
"retry_role_job":
{ Args: { "claim": string,"counts_as_attempt": boolean,"delay_ms": number,"error": string,"job_id": number }; Returns: boolean
                           },
"role_sync_housekeeping":
{ Args: Record<PropertyKey, never>; Returns: undefined
                           },
"schedule_reconciliations":
{ Args: { "max_guilds"?: number }; Returns: number
                           },
"sweep_role_jobs":
{ Args: Record<PropertyKey, never>; Returns: number
                           },
"wake_role_sync_once":
{ Args: { "payload": Json }; Returns: number
                           }
          }
          Enums: {
            [_ in never]: never
          }
          CompositeTypes: {
            [_ in never]: never
          }
        }
}

type DatabaseWithoutInternals = Omit<Database, '__InternalSupabase'>

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "rolepass">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
  ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R
    }
    ? R
    : never
  : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I
    }
    ? I
    : never
  : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U
    }
    ? U
    : never
  : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
  ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never
> = PublicCompositeTypeNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
  ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never

export const Constants = {
  "rolepass": {
          Enums: {
            
          }
        }
} as const
