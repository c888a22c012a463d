/**
 * A gRPC service config that retries calls on UNAVAILABLE (the server restarting, a connection
 * dropped) with exponential backoff. grpc-js applies it itself; only calls that are safe to
 * repeat are listed: reads, and creates, which the client gives a request id (see
 * service-clients.ts) so that a repeat returns the first result.
 */
export function retryServiceConfig(service: string, methods: readonly string[]): string {
  return JSON.stringify({
    methodConfig: [
      {
        name: methods.map((method) => ({ service, method })),
        retryPolicy: {
          maxAttempts: 5,
          initialBackoff: '0.1s',
          maxBackoff: '2s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  });
}
