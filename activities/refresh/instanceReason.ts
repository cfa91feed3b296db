import { instanceRef, type ServiceInstance } from '../../common/cloudMap';

const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g;
const BRACKETED_IPV6 = /\[[0-9A-Fa-f:.%\w]*:[0-9A-Fa-f:.%\w]*\](?::\d{1,5})?/g;
const BARE_IPV6 = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])/g;
/** gRPC names its targets with a scheme: `ipv4:`, `ipv6:`, `dns:`. */
const SCHEME = /\b(?:ipv4|ipv6|dns|unix):(?=<)/g;

/**
 * A failed instance's reason as every operator of the tenant may read it. Pooled instances serve many
 * tenants; their addresses and ports are the platform's, so the reason names the instance by its
 * reference (`service/instanceId`) wherever gRPC or the socket quoted where it listens.
 */
export function tenantVisibleReason(reason: string, instance: ServiceInstance): string {
  const ref = `<${instanceRef(instance)}>`;
  const targets = [`${instance.address}:${instance.port}`, instance.address].filter(Boolean);
  let scrubbed = reason;
  for (const target of targets) scrubbed = scrubbed.split(target).join(ref);
  return scrubbed
    .replace(BRACKETED_IPV6, '<address>')
    .replace(IPV4, '<address>')
    .replace(BARE_IPV6, '<address>')
    .replace(SCHEME, '');
}
