// Settings shared by the examples: the access point is any broker's grpcServerPort.
'use strict';

module.exports = {
  endpoints: process.env.MQ_ENDPOINTS || '127.0.0.1:8081',
  topic: process.env.MQ_TOPIC || 'TopicTest',
  // A quiet logger: the SDK's default writes to ~/logs/rocketmq/rocketmq_client_nodejs.log.
  logger: { info() {}, debug() {}, warn: console.warn, error: console.error, close() {} },
};
