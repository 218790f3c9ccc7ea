/**
 * Caps the kernel receive buffer of the client connections a listener
 * accepts, so that pausing a request body really stops reading it.
 *
 * uSockets reads a readable socket in a loop for as long as each `recv` fills
 * its 512 KiB buffer, and calls the body handler for each chunk inside that
 * loop; `res.pause()` takes effect only when the loop ends. When the gateway
 * spends time per chunk (handing it to the upstream request) and the client
 * refills the socket as fast as it is read, the loop never ends: an 800 MB
 * upload was measured holding 210 MB in a worker with the body paused. With
 * a receive buffer smaller than uSockets' read buffer, no `recv` returns a
 * full buffer, every loop ends after one read, and the pause holds (the same
 * upload: 0.5 MB waiting at most, throughput unchanged on loopback).
 *
 * Accepted sockets inherit `SO_RCVBUF` from the listening socket, which uWS
 * does not expose: its descriptor is found through `/proc/self` (the LISTEN
 * socket of the port whose inode is one of this process's descriptors) and
 * `setsockopt` is called through koffi. Linux only; elsewhere nothing is done.
 *
 * The cap also bounds the TCP window a client gets: 256 KiB ≈ 256 MB/s at a
 * 1 ms round trip, 5 MB/s at 50 ms — ample for an edge device's clients.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import koffi from 'koffi';

/** Below uSockets' 512 KiB read buffer (the kernel doubles the value for its own bookkeeping). */
export const CLIENT_RECEIVE_BUFFER_BYTES = 256 * 1024;

// Linux, the same on x86_64 and arm64 (asm-generic/socket.h).
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const TCP_LISTEN = '0A';

type SetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number) => number;
let setsockopt: SetSockOpt | undefined;

/** Inodes of the sockets listening on `port` in this network namespace (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && fields[1]?.endsWith(suffix) && fields[3] === TCP_LISTEN) inodes.add(fields[9] as string);
    }
  }
  return inodes;
}

/** This process's descriptors of the sockets listening on `port`. */
export function listeningDescriptors(port: number): number[] {
  const inodes = listeningInodes(port);
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`))?.[1];
      if (inode !== undefined && inodes.has(inode)) fds.push(Number(name));
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return fds;
}

/**
 * Sets `SO_RCVBUF` on this process's listening socket(s) of `port`.
 * Returns why it could not, or `undefined` when it did.
 */
export function capReceiveBuffer(port: number, bytes = CLIENT_RECEIVE_BUFFER_BYTES): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const fds = listeningDescriptors(port);
  if (fds.length === 0) return `no listening socket of port ${port} found in /proc/self`;
  setsockopt ??= koffi.load(null).func('int setsockopt(int fd, int level, int name, void *value, uint32 len)') as SetSockOpt;
  const value = Buffer.alloc(4);
  value.writeInt32LE(bytes);
  for (const fd of fds) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, 4) !== 0) return `setsockopt(SO_RCVBUF) failed on descriptor ${fd}`;
  }
  return undefined;
}
