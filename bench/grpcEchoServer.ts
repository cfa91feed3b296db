/**
 * The baseline of `npm run bench:grpc`: a bare @grpc/grpc-js server with one unary method, GetConfig of
 * proto/config.proto loaded with the platform's own loader options, so its answer is encoded by the same
 * protobufjs codec as the config service's. It answers every call with the fixed GetConfigResponse it was
 * started with (ECHO_ANSWER, JSON), the one the config service gave for the benchmark's key, so both
 * answers have the same encoded size. It is sent the same calls as the service, bearer token included,
 * and ignores the token. No auth, no logging, no cache, no reflection: what grpc-js costs.
 *
 * Prints `{"port":N,"answerBytes":N}` on stdout once listening; stops on SIGTERM.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../common/proto';
import type { ProtoGrpcType } from '../gen/proto/config';
import type { GetConfigResponse } from '../gen/proto/configsvc/v1/GetConfigResponse';

const answer = JSON.parse(process.env.ECHO_ANSWER ?? '') as GetConfigResponse;
const { proto } = loadProto<ProtoGrpcType>('config.proto');
const { service } = proto.configsvc.v1.ConfigService;
const getConfig = service.GetConfig;

const server = new grpc.Server();
server.addService(
  { GetConfig: getConfig },
  {
    GetConfig: (_call: unknown, callback: grpc.sendUnaryData<GetConfigResponse>) => callback(null, answer),
  },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  const answerBytes = getConfig.responseSerialize(answer).length;
  process.stdout.write(`${JSON.stringify({ port, answerBytes })}\n`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
