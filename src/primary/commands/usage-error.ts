/** An error whose message is meant for the user as is (bad option, missing argument): one line, exit code 2. */
export class UsageError extends Error {}
