/** The process' CPU (user + system, every thread) in ms. */
export const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Spins until the process has spent `ms` more of CPU. */
export const burnCpu = (ms: number): void => {
  const end = processCpuMs() + ms;
  while (processCpuMs() < end);
};
