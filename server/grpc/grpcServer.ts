import * as grpc from '@grpc/grpc-js';
import { serveWithReflection } from '../../common/grpcServing';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceHandlers } from '../../gen/proto/configsvc/v1/ConfigService';
import type { GetConfigResponse } from '../../gen/proto/configsvc/v1/GetConfigResponse';
import { withServerSpans } from '../tracing/grpcSpans';

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

/**
 * The gRPC server with ConfigService and server reflection; `traced`, a span per call (only then: a
 * cached GetConfig is cheap enough for even the no-op tracer's work to show).
 */
export function startGrpcServer(
  handlers: ConfigServiceHandlers,
  address: { host: string; port: number },
  traced = false,
): Promise<{ server: grpc.Server; port: number }> {
  const { definition, proto } = loadProto<ProtoGrpcType>('config.proto');
  return serveWithReflection(
    definition,
    withEncodedAnswers(proto.configsvc.v1.ConfigService.service),
    traced ? withServerSpans('configsvc.v1.ConfigService', handlers) : handlers,
    address,
    'ConfigService',
    grpc.ServerCredentials.createInsecure(),
    CONFIG_SERVICE_OPTIONS,
  );
}
