import { DomainError } from '../model/errors.js';

/** Why a supervisor operation was refused; the HTTP layer maps each code to a status. */
export type SupervisorErrorCode =
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_ALREADY_RUNNING'
  | 'PLUGIN_NOT_RUNNING'
  | 'PLUGIN_DISABLED'
  | 'PLUGIN_CONFIG_INVALID'
  | 'PLUGIN_START_FAILED'
  | 'SHUTTING_DOWN';

export class SupervisorError extends DomainError<SupervisorErrorCode> {}
