import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capReceiveBuffer, listeningDescriptors } from './receive-buffer.js';

const getsockopt = koffi.load(null).func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32 *len)') as (
  fd: number,
  level: number,
  name: number,
  value: Buffer,
  length: number[],
) => number;

describe('capReceiveBuffer', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("finds this process's listening socket of a port and sets SO_RCVBUF on it", () => {
    const fds = listeningDescriptors(port);
    expect(fds).toHaveLength(1);
    expect(capReceiveBuffer(port, 128 * 1024)).toBeUndefined();
    const value = Buffer.alloc(4);
    expect(getsockopt(fds[0] as number, 1, 8, value, [4])).toBe(0);
    // Linux doubles the value for its bookkeeping (socket(7)).
    expect(value.readInt32LE()).toBe(256 * 1024);
  });

  it('says why when no socket of this process listens on the port', () => {
    expect(listeningDescriptors(1)).toEqual([]);
    expect(capReceiveBuffer(1)).toMatch(/no listening socket of port 1/);
  });
});
