import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

/**
 * Serves one service plus server reflection (so grpcurl can list and call it without the .proto) on
 * `host:port`; port 0 picks a free port.
 */
export async function serveWithReflection(
  definition: PackageDefinition,
  service: grpc.ServiceDefinition,
  handlers: grpc.UntypedServiceImplementation,
  address: { host: string; port: number },
  name: string,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
  options?: grpc.ServerOptions,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server(options);
  server.addService(service, handlers);
  new ReflectionService(definition).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address.host}:${address.port}`, credentials, (error, bound) =>
      error
        ? reject(new Error(`${name} cannot listen on ${address.host}:${address.port}: ${error.message}`))
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
