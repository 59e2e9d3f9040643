/**
 * Query plans as PostgreSQL ran them: auto_explain on a connection of its own reports the plan of
 * every statement the connection executes as a JSON notice. Tests assert node types and index
 * names, never times.
 */
import postgres from "postgres";

/** A node of a plan as EXPLAIN (FORMAT JSON) writes it. */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

/** A statement's text and every node of its plan, the root first. */
export interface ExplainedStatement {
  query: string;
  nodes: PlanNode[];
}

/** The node and every node below it, depth first. */
export function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

/**
 * Runs `work` on a new connection to `url` and returns the plans of the statements it executed;
 * `nested` adds those run inside functions (PL/pgSQL, triggers).
 */
export async function explainedStatements(
  url: string,
  work: (sql: postgres.Sql) => Promise<unknown>,
  options: { nested?: boolean } = {},
): Promise<ExplainedStatement[]> {
  const notices: string[] = [];
  const sql = postgres(url, {
    max: 1,
    prepare: false,
    onnotice: (notice) => notices.push(String(notice.message)),
  });
  try {
    await sql.unsafe("load 'auto_explain'");
    await sql.unsafe("set auto_explain.log_min_duration = 0");
    if (options.nested) await sql.unsafe("set auto_explain.log_nested_statements = on");
    await sql.unsafe("set auto_explain.log_format = 'json'");
    await sql.unsafe("set auto_explain.log_level = 'notice'");
    await work(sql);
  } finally {
    await sql.end();
  }
  return notices.filter((message) => message.includes("plan:")).map((message) => {
    const explained = JSON.parse(message.slice(message.indexOf("plan:") + 5)) as {
      "Query Text": string;
      Plan: PlanNode;
    };
    return { query: explained["Query Text"], nodes: flatten(explained.Plan) };
  });
}
