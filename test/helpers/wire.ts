/**
 * Requests at the byte level: a protobuf encoder small enough to write what
 * protobufjs refuses to encode (a Struct nested 200 deep), and a grpc-js client
 * that sends bytes as they are, so tests can send what no generated client
 * would: corrupted or truncated messages.
 */
import * as grpc from '@grpc/grpc-js';

function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

/** A varint field (int32, int64, uint32, bool, enum). */
export function intField(field: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

/** A length-delimited field: a string, bytes, or an embedded message's encoding. */
export function bytesField(field: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/**
 * A google.protobuf.Struct `{"k": {"k": … {"k": true}}}` whose objects nest `depth` deep:
 * Struct.fields (1) is a map entry of key (1) and Value (2); Value.struct_value is 5 and
 * Value.bool_value 4. Built inside out, iteratively.
 */
export function nestedStruct(depth: number): Buffer {
  let value: Buffer = intField(4, 1);
  let struct: Buffer = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) {
    struct = bytesField(1, Buffer.concat([bytesField(1, 'k'), bytesField(2, value)]));
    value = bytesField(5, struct);
  }
  return struct;
}

/** A call's status, and the response bytes when it succeeded. */
export type RawResult = { code: number; details: string; response?: Buffer };

/** A client that sends raw request bytes to any method path and reports the status. */
export class RawClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  /** Calls a unary method with `bytes` as the request; the response bytes are not decoded. */
  unary(path: string, bytes: Buffer, deadlineMs = 10_000): Promise<RawResult> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, response?: Buffer) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', ...(response ? { response } : {}) }),
      );
    });
  }

  /**
   * Opens a server stream with `bytes` as the request and resolves with its status: the
   * server's error, or CANCELLED when it was still open after `openMs` and was cancelled.
   */
  stream(path: string, bytes: Buffer, openMs = 100): Promise<RawResult> {
    return new Promise((resolve) => {
      const call = this.client.makeServerStreamRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
      const timer = setTimeout(() => call.cancel(), openMs);
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => {
        clearTimeout(timer);
        resolve({ code: s.code, details: s.details });
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
