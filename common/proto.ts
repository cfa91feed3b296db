import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { repoRoot } from './repoRoot';

/** The options the generated types in gen/proto are made with (package.json `gen:proto`): keep them in step. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  keepCase: true,
};

export function protoPath(file: string): string {
  return path.join(repoRoot(), 'proto', file);
}

/** Loads a .proto file; returns the package definition (for reflection) and the typed gRPC object. */
export function loadProto<T>(file: string): { definition: protoLoader.PackageDefinition; proto: T } {
  const definition = protoLoader.loadSync(protoPath(file), PROTO_LOADER_OPTIONS);
  return { definition, proto: grpc.loadPackageDefinition(definition) as unknown as T };
}

/**
 * Channel options of every gRPC client the platform makes. grpc-js backs off up to 120 s between
 * reconnection attempts by default, so a client outlived a server's restart by tens of seconds; capped
 * at 1 s, a client is back within a second or two of its server.
 */
export const CLIENT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 1000,
};
