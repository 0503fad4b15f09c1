// How the account service's refusals become API errors: one status per reason (CONTRACT §3, §5).

import { AccountError, type AccountErrorReason } from "../identity/accounts.ts";
import { ApiError } from "./errors.ts";

const STATUS: Record<AccountErrorReason, number> = {
  conflict: 409,
  not_found: 404,
  // The broker cannot hold accounts: the hub does not implement credentials there.
  unmanaged: 501,
  broker: 502,
};

/** Runs an account operation, turning an AccountError into the ApiError the client gets. */
export async function accountCall<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    if (err instanceof AccountError) {
      throw new ApiError(
        `LOCUS_ACCOUNT_${err.reason.toUpperCase()}`,
        STATUS[err.reason],
        err.message,
      );
    }
    throw err;
  }
}
