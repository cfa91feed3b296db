/**
 * Reads a CPU profile written by `npm run bench:grpc -- --profile DIR` (node --cpu-prof) and prints where
 * the busy time went: the top functions by self time, and shares by part of the read path, each sample
 * given to the innermost frame on its stack that belongs to a part (so crypto called by aws-jwt-verify
 * counts as token verification). Idle time is left out; `--skip-seconds N` leaves out start-up.
 *
 *   npx tsx bench/grpcProfile.ts DIR/CPU.*.cpuprofile --skip-seconds 12
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const PARTS: [string, RegExp][] = [
  [
    'token verification (aws-jwt-verify, node:crypto)',
    /aws-jwt-verify|auth\/tokenVerifier|auth\/verifiedTokenCache/,
  ],
  ['rate limits', /server\/limits\//],
  ['tenant-name check on metadata', /auth\/tenantSmuggling/],
  ['read cache and store', /server\/configReader|activities\/storage\//],
  ['protobuf encoding and decoding', /protobufjs|proto-loader/],
  [
    'ConfigService handlers and authentication',
    /grpc\/configServiceHandlers|auth\/authenticator|auth\/identity/,
  ],
  ['grpc-js', /@grpc\/grpc-js/],
];
const OTHER = 'node internals (http2, net, streams, timers)';

function summarize(file: string, skipSeconds: number, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    elapsed += delta;
    if (elapsed >= skipSeconds * 1e6) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const byFunction = new Map<string, number>();
  const byPart = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const where = frame.url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\/.*?\/(server|bench|common)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'} ${where}${where ? `:${frame.lineNumber}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byPart.set(partOf(id), (byPart.get(partOf(id)) ?? 0) + us);
  }

  function partOf(leaf: number): string {
    const frame = nodes.get(leaf)!.callFrame;
    if (frame.functionName === '(garbage collector)') return 'garbage collection';
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const { url } = nodes.get(id)!.callFrame;
      const part = PARTS.find(([, pattern]) => pattern.test(url));
      if (part) return part[0];
    }
    return OTHER;
  }

  const share = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  console.log(`${file}: ${(busy / 1e6).toFixed(1)} s busy after the first ${skipSeconds} s`);
  console.log('\nby part of the read path');
  for (const [part, us] of [...byPart].sort((a, b) => b[1] - a[1])) console.log(`${share(us)}  ${part}`);
  console.log(`\ntop ${top} functions by self time`);
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${share(us)}  ${name}`);
}

const args = process.argv.slice(2);
const skipAt = args.indexOf('--skip-seconds');
const skipSeconds = skipAt >= 0 ? Number(args.splice(skipAt, 2)[1]) : 0;
for (const file of args) summarize(file, skipSeconds, 15);
