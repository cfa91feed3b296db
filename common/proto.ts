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
