import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceHandlers } from '../../gen/proto/configsvc/v1/ConfigService';

/**
 * The gRPC server with ConfigService and server reflection (so grpcurl can list and call it without
 * the .proto). Binds to the given address; port 0 picks a free port (tests).
 */
export async function startGrpcServer(
  handlers: ConfigServiceHandlers,
  address: { host: string; port: number },
): Promise<{ server: grpc.Server; port: number }> {
  const { definition, proto } = loadProto<ProtoGrpcType>('config.proto');
  const server = new grpc.Server();
  server.addService(proto.configsvc.v1.ConfigService.service, handlers);
  new ReflectionService(definition).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${address.host}:${address.port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) =>
        error
          ? reject(new Error(`gRPC cannot listen on ${address.host}:${address.port}: ${error.message}`))
          : resolve(bound),
    );
  });
  return { server, port };
}

export function stopGrpcServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
