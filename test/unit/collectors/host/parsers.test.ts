import { readFileSync } from 'node:fs';
import os from 'node:os';
import t from 'tap';
import {
  countTcpStates,
  cpuPercentBetween,
  parseCpuinfoMhz,
  parseDiskstats,
  parseHostStat,
  parseLoadavg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
} from '../../../../src/collectors/host/parsers.js';

const read = (f: string) => readFileSync(f, 'utf8');

t.test('/proc/stat', async (t) => {
  const text = 'cpu  100 5 50 800 40 1 2 2 7 0\ncpu0 50 2 25 400 20 0 1 1 0 0\ncpu1 50 3 25 400 20 1 1 1 0 0\nintr 1\nbtime 1700000000\nprocs_running 3\nprocs_blocked 1\n';
  const s = parseHostStat(text);
  t.same(s.ticks, { user: 100, nice: 5, system: 50, idle: 800, iowait: 40, irq: 1, softirq: 2, steal: 2 });
  t.equal(s.cores, 2);
  t.equal(s.bootTimeSeconds, 1_700_000_000);
  t.equal(s.procsRunning, 3);
  t.equal(s.procsBlocked, 1);
  const later = { ...s.ticks, user: 160, idle: 840 }; // 60 busy + 40 idle
  t.equal(cpuPercentBetween(s.ticks, later), 60);
  t.equal(cpuPercentBetween(s.ticks, s.ticks), 0, 'no time passed: 0, not NaN');
  const host = parseHostStat(read('/proc/stat'));
  t.equal(host.cores, os.cpus().length, 'cores equal the CPUs Node sees');
  t.ok(Math.abs(host.bootTimeSeconds - (Date.now() / 1000 - os.uptime())) < 5, 'boot time agrees with uptime');
});

t.test('/proc/meminfo', async (t) => {
  const m = parseMeminfo('MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    600 kB\nBuffers:          50 kB\nCached:          300 kB\nSReclaimable:     20 kB\nSwapTotal:       200 kB\nSwapFree:        150 kB\nActive(anon):     10 kB\n');
  t.same(m, { total: 1024000, available: 614400, free: 102400, buffers: 51200, cached: 327680, swapTotal: 204800, swapFree: 153600 });
  t.equal(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 300 kB\n').available, 450 * 1024, 'old kernels: free + buffers + cache');
  t.equal(parseMeminfo(read('/proc/meminfo')).total, os.totalmem(), 'MemTotal is what os.totalmem() reads');
});

t.test('/proc/diskstats keeps whole disks only', async (t) => {
  const text = [
    '   8       0 sda 100 0 2000 0 50 0 4000 0 0 0 0 0 0 0 0 0 0',
    '   8       1 sda1 90 0 1800 0 40 0 3000 0 0 0 0 0 0 0 0 0 0',
    '   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
    ' 259       0 nvme0n1 10 0 8 0 1 0 16 0 0 0 0 0 0 0 0 0 0',
    ' 259       1 nvme0n1p1 10 0 8 0 1 0 16 0 0 0 0 0 0 0 0 0 0',
  ].join('\n');
  t.same(parseDiskstats(text), [
    { device: 'sda', readBytes: 2000 * 512, writtenBytes: 4000 * 512 },
    { device: 'nvme0n1', readBytes: 8 * 512, writtenBytes: 16 * 512 },
  ]);
  t.type(parseDiskstats(read('/proc/diskstats')), Array);
});

t.test('/proc/net/dev', async (t) => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456789 1000    0    0    0     0          0         0  98765 500    0    0    0     0       0          0
`;
  t.same(parseNetDev(text), [
    { device: 'lo', rxBytes: 1000, rxPackets: 10, txBytes: 1000, txPackets: 10 },
    { device: 'eth0', rxBytes: 123456789, rxPackets: 1000, txBytes: 98765, txPackets: 500 },
  ]);
  t.ok(parseNetDev(read('/proc/net/dev')).some((d) => d.device === 'lo'));
});

t.test('/proc/net/tcp states', async (t) => {
  const text = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
`;
  t.same(countTcpStates(text), { listen: 1, established: 1, time_wait: 1 });
  const acc = countTcpStates(text, { listen: 2 });
  t.equal(acc.listen, 3, 'adds into an existing count (tcp + tcp6)');
});

t.test('/proc/loadavg, mounts, cpuinfo', async (t) => {
  t.same(parseLoadavg('0.50 0.30 0.20 2/345 12345\n'), { load1: 0.5, load5: 0.3, load15: 0.2, runnable: 2, entities: 345 });
  const la = parseLoadavg(read('/proc/loadavg'));
  t.ok(Math.abs(la.load1 - os.loadavg()[0]!) < 0.5);
  t.same(parseMounts('/dev/sda1 / ext4 rw 0 0\nhost /mnt/my\\040disk 9p rw 0 0\n'), [
    { device: '/dev/sda1', mountpoint: '/', fstype: 'ext4' },
    { device: 'host', mountpoint: '/mnt/my disk', fstype: '9p' },
  ]);
  t.ok(parseMounts(read('/proc/self/mounts')).some((m) => m.mountpoint === '/'));
  t.equal(parseCpuinfoMhz('processor : 0\ncpu MHz\t\t: 2000.000\nprocessor : 1\ncpu MHz\t\t: 3000.000\n'), 2500);
  t.equal(parseCpuinfoMhz('processor : 0\n'), null);
});
