import net from 'node:net';

/**
 * Whether `address` (`host:port`, as servers listen and clients dial) stays on this machine:
 * 127.0.0.0/8, ::1 or localhost. A name that merely resolves to loopback does not count: what
 * it resolves to can change.
 */
export function isLoopbackAddress(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || /^::ffff:127\./i.test(host));
}
