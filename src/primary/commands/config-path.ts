/**
 * Default config path (SPEC §2): `PORTCULLIS_CONFIG`, systemd's configuration
 * directory, or ./config/gateway.yaml. Shared by `start` and the commands
 * that read the `identity` section.
 */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.PORTCULLIS_CONFIG) return env.PORTCULLIS_CONFIG;
  const systemdDir = env.CONFIGURATION_DIRECTORY?.split(':')[0];
  return systemdDir ? `${systemdDir}/gateway.yaml` : 'config/gateway.yaml';
}
