import type { Logger } from '../infra/logger.ts';

/** The verified caller, taken from the JWT only. */
export interface Principal {
  subject: string;
  orgId: string;
  scopes: ReadonlySet<string>;
  roles: ReadonlySet<string>;
}

/** Hono's typed per-request variables. */
export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
    /** The tenant of this request: equal to the principal's orgId once tenancy has run. */
    orgId: string;
  };
}
