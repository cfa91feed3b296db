import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceHandlers } from '../../gen/proto/configsvc/v1/ConfigService';
import type { GetConfigResponse } from '../../gen/proto/configsvc/v1/GetConfigResponse';

/**
 * An answer already encoded, sent as its bytes: a cached read's answer is encoded once per cache entry
 * rather than once per call. Only what this process encoded from the same message type is wrapped.
 */
export class EncodedAnswer {
  constructor(readonly bytes: Buffer) {}
}

/**
 * ConfigService's definition with every answer's serializer taking an EncodedAnswer as it is. The
 * message's encoding is the loaded one's, so a client cannot tell the two apart.
 */
function withEncodedAnswers(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      {
        ...method,
        responseSerialize: (value: unknown) =>
          value instanceof EncodedAnswer ? value.bytes : method.responseSerialize(value),
      },
    ]),
  );
}

/** The encoder of GetConfig's answer, as the server's own definition encodes it. */
export function getConfigAnswerEncoder(): (answer: GetConfigResponse) => Buffer {
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  const method = proto.configsvc.v1.ConfigService.service.GetConfig;
  return (answer) => method.responseSerialize(answer);
}

/**
 * Channelz keeps per-call counters and call tracing on every call; nothing here reads them, and on a
 * cached GetConfig they were a few per cent of the CPU (bench/README.md).
 */
const CONFIG_SERVICE_OPTIONS: grpc.ServerOptions = { 'grpc.enable_channelz': 0 };

/** The gRPC server with ConfigService and server reflection. */
export function startGrpcServer(
  handlers: ConfigServiceHandlers,
  address: { host: string; port: number },
): Promise<{ server: grpc.Server; port: number }> {
  const { definition, proto } = loadProto<ProtoGrpcType>('config.proto');
  return serveWithReflection(
    definition,
    withEncodedAnswers(proto.configsvc.v1.ConfigService.service),
    handlers,
    address,
    'ConfigService',
    grpc.ServerCredentials.createInsecure(),
    CONFIG_SERVICE_OPTIONS,
  );
}

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
