import type { HttpInstanceSummary } from '@aws-sdk/client-servicediscovery';
import type { KeyObject } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { INSTANCE_ATTRIBUTES, type ServiceInstance } from '../../common/cloudMap';
import { type InstanceGrant, verifyInstanceGrant } from '../../common/instanceGrant';
import { nowInSeconds } from '../../common/signedToken';
import { errorMessage } from '../../common/errors';

/**
 * Whoever may call Cloud Map's RegisterInstance in a consuming service can write any attributes. A
 * registration is pushed to only when it holds a platform-issued grant for exactly the tenancy it
 * claims, and names an IPv4 literal inside the allowed networks and an allowed port: so nobody can
 * claim a pool or another tenant's silo, or aim the worker at an address of their choosing.
 */
export interface AdmissionPolicy {
  /** The config service's instance-grant public key. */
  readonly grantVerifyKey: KeyObject;
  /** CIDRs (`10.0.0.0/8`) the worker may push to. */
  readonly allowedCidrs: readonly string[];
  /** Inclusive port ranges the worker may push to. */
  readonly allowedPorts: readonly PortRange[];
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export type Admission =
  | { readonly instance: ServiceInstance; readonly refused?: undefined }
  | { readonly refused: string };

const MAX_ZONE_LENGTH = 64;
/** Verified grants remembered: a rollout discovers its fleet two or three times, rollouts follow each other. */
const VERIFIED_GRANTS_KEPT = 20_000;

export class InstanceAdmission {
  private readonly networks = new BlockList();
  /** Grant text to its verified content; an entry is used only while the grant is current. */
  private readonly verified = new Map<string, InstanceGrant>();

  constructor(private readonly policy: AdmissionPolicy) {
    for (const cidr of policy.allowedCidrs) {
      const [network, prefix] = cidr.split('/');
      this.networks.addSubnet(network ?? '', Number(prefix), 'ipv4');
    }
  }

  /** The instance a registration of `service` describes, or why no push may go to it. */
  admit(service: string, summary: HttpInstanceSummary, nowSeconds = nowInSeconds()): Admission {
    const attributes = summary.Attributes ?? {};
    const instanceId = summary.InstanceId;
    if (!instanceId) return { refused: 'no instance id' };
    const address = attributes[INSTANCE_ATTRIBUTES.ipv4] ?? '';
    if (!isIPv4(address)) return { refused: 'its address is not an IPv4 literal' };
    if (!this.networks.check(address, 'ipv4'))
      return { refused: 'its address is outside the allowed networks' };
    const portText = attributes[INSTANCE_ATTRIBUTES.port] ?? '';
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!this.policy.allowedPorts.some((range) => port >= range.from && port <= range.to)) {
      return { refused: 'its port is not an allowed port' };
    }
    const tenancy = attributes[INSTANCE_ATTRIBUTES.tenancy];
    if (tenancy !== 'silo' && tenancy !== 'pool') return { refused: 'its tenancy is neither silo nor pool' };
    const tenantId = attributes[INSTANCE_ATTRIBUTES.tenant];
    const zone = attributes[INSTANCE_ATTRIBUTES.zone];
    if (zone !== undefined && zone.length > MAX_ZONE_LENGTH) return { refused: 'its zone is too long' };

    const token = attributes[INSTANCE_ATTRIBUTES.grant];
    if (!token) return { refused: 'it holds no instance grant' };
    let grant;
    try {
      grant = this.verifiedGrant(token, nowSeconds);
    } catch (error) {
      return { refused: errorMessage(error) };
    }
    if (grant.service !== service) return { refused: `its grant is for service "${grant.service}"` };
    if (grant.tenancy !== tenancy)
      return { refused: `its grant is for a ${grant.tenancy}, not a ${tenancy}` };
    if (tenancy === 'silo' && grant.tenantId !== tenantId) {
      return { refused: 'its grant is for another tenant' };
    }
    return {
      instance: {
        instanceId,
        service,
        address,
        port,
        tenancy,
        ...(tenancy === 'silo' && tenantId ? { tenantId } : {}),
        ...(zone ? { zone } : {}),
        sealingKey: grant.sealingKey,
      },
    };
  }

  /** The grant's content, verifying its signature once per grant text (a signature check is ~80 µs). */
  private verifiedGrant(token: string, nowSeconds: number): InstanceGrant {
    const known = this.verified.get(token);
    if (known && known.expiresAt >= nowSeconds) return known;
    const grant = verifyInstanceGrant(this.policy.grantVerifyKey, token, nowSeconds);
    if (this.verified.size >= VERIFIED_GRANTS_KEPT) this.verified.clear();
    this.verified.set(token, grant);
    return grant;
  }
}
