/**
 * A refusal the domain explains: a stable code (one of docs/errors.md's), the request field it concerns, a message for
 * the client. Parts below http/ throw these; http/ maps the code to a status in one place (api-error.ts) and formats
 * it in the envelope of the route family. Anything that is not a DomainError is an internal error.
 */
export class DomainError<C extends string = string> extends Error {
  readonly code: C;
  readonly field?: string;

  constructor(code: C, message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (field !== undefined) this.field = field;
  }
}

/** perfwatch cannot start for a reason the operator must fix; the message names the file or setting and the fix (the CLI exits 1 with it). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
