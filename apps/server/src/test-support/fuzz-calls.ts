import type { DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';

/** How one raw call ended. `open` means it was still streaming when the fuzzer stopped reading. */
export interface RawOutcome {
  code: grpc.status;
  details: string;
  open: boolean;
}

const passThrough = (bytes: Buffer) => bytes;

/**
 * Sends bytes to a method as they are, without parsing or serializing them, over a plain grpc-js
 * client: what a broken or hostile client can put on the wire. A stream still open after
 * `streamWindowMs` is cancelled (watches and keep-alives never end by themselves).
 */
export class RawCaller {
  private readonly client: grpc.Client;

  constructor(
    address: string,
    private readonly options: { deadlineMs: number; streamWindowMs: number },
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    });
  }

  close(): void {
    this.client.close();
  }

  call(service: string, method: DescMethod, request: Buffer): Promise<RawOutcome> {
    const path = `/${service}/${method.name}`;
    const deadline = Date.now() + this.options.deadlineMs;
    return new Promise<RawOutcome>((resolve) => {
      let open = false;
      const settle = (code: grpc.status, details: string) => resolve({ code, details, open });
      switch (method.methodKind) {
        case 'unary':
          this.client.makeUnaryRequest(path, passThrough, passThrough, request, new grpc.Metadata(), { deadline }, (error) =>
            error ? settle(error.code, error.details) : settle(grpc.status.OK, ''),
          );
          return;
        case 'client_streaming': {
          const call = this.client.makeClientStreamRequest(path, passThrough, passThrough, new grpc.Metadata(), { deadline }, (error) =>
            error ? settle(error.code, error.details) : settle(grpc.status.OK, ''),
          );
          call.write(request);
          call.end();
          return;
        }
        default: {
          const call =
            method.methodKind === 'server_streaming'
              ? this.client.makeServerStreamRequest(path, passThrough, passThrough, request, new grpc.Metadata(), { deadline })
              : this.client.makeBidiStreamRequest(path, passThrough, passThrough, new grpc.Metadata(), { deadline });
          if (method.methodKind === 'bidi_streaming') {
            const duplex = call as grpc.ClientDuplexStream<Buffer, Buffer>;
            duplex.write(request);
            duplex.end();
          }
          const window = setTimeout(() => {
            open = true;
            call.cancel();
          }, this.options.streamWindowMs);
          call.on('data', () => undefined);
          call.on('error', () => undefined);
          call.on('status', (status: grpc.StatusObject) => {
            clearTimeout(window);
            settle(status.code, status.details);
          });
        }
      }
    });
  }
}
