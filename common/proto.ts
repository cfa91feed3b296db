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

const loaded = new Map<string, { definition: protoLoader.PackageDefinition; proto: unknown }>();

/**
 * Loads a .proto file once per process; returns the package definition (for reflection) and the typed
 * gRPC object. Shared because protobufjs generates each message's codec on its first use per load: a
 * process serving many CacheRefresh servers (or pushing to many instances) would otherwise pay that
 * once per server or client.
 */
export function loadProto<T>(file: string): { definition: protoLoader.PackageDefinition; proto: T } {
  let entry = loaded.get(file);
  if (!entry) {
    const definition = protoLoader.loadSync(protoPath(file), PROTO_LOADER_OPTIONS);
    entry = { definition, proto: grpc.loadPackageDefinition(definition) };
    loaded.set(file, entry);
  }
  return { definition: entry.definition, proto: entry.proto as T };
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
