import type { z } from 'zod';

/**
 * zod's issues as the messages perfwatch shows, one place for the config loader and the HTTP routes: a path written as
 * `plugins[1].stop_timeout`, unknown keys and missing fields said plainly, and at most MAX_PROBLEMS of them.
 */

const MAX_PROBLEMS = 20;

/** Formats a zod path as `plugins[1].stop_timeout`. */
export function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of p) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

export function issuesToProblems(issues: z.core.$ZodIssue[], prefix = ''): string[] {
  // an error answer must stay small whatever the input: a body with a thousand unknown keys gets a short list
  const quote = (k: PropertyKey) => JSON.stringify(String(k).slice(0, 64));
  const problems = issues.slice(0, MAX_PROBLEMS).map((issue) => {
    const where = prefix + formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const shown = issue.keys.slice(0, 10).map(quote).join(', ');
      return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${shown}${issue.keys.length > 10 ? ` and ${issue.keys.length - 10} more` : ''}`;
    }
    if (issue.code === 'invalid_type') {
      // zod does not keep the input: what it received is in its message ("… received undefined")
      const received = /received (\w+)/.exec(issue.message)?.[1];
      return `${where}: expected ${issue.expected}${received === undefined || received === 'undefined' ? ' (required)' : `, got ${received}`}`;
    }
    return `${where}: ${issue.message.slice(0, 300)}`;
  });
  if (issues.length > MAX_PROBLEMS) problems.push(`… and ${issues.length - MAX_PROBLEMS} more problems`);
  return problems;
}

/** Most problems one error lists. */
