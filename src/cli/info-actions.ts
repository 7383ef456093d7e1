// `strata info` (and `system info`): docker info's server section, for strata.
import { systemInfo } from '../container/system-info.js';
import { withStore } from './with-store.js';

const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)}GiB`;

export function info(o: { format?: string }): Promise<void> {
  return withStore((s) => {
    const i = systemInfo(s, '0.1.0');
    if (o.format === 'json') return console.log(JSON.stringify(i, null, 2));
    const lines = [
      `Containers: ${i.Containers}`,
      ` Running: ${i.ContainersRunning}`,
      ` Paused: ${i.ContainersPaused}`,
      ` Stopped: ${i.ContainersStopped}`,
      `Images: ${i.Images}`,
      `Server Version: ${i.ServerVersion}`,
      `Storage Driver: ${i.Driver}`,
      ...i.DriverStatus.map(([k, v]) => ` ${k}: ${v}`),
      `Cgroup Version: ${i.CgroupVersion}`,
      `Kernel Version: ${i.KernelVersion}`,
      `Operating System: ${i.OperatingSystem}`,
      `OSType: ${i.OSType}`,
      `Architecture: ${i.Architecture}`,
      `CPUs: ${i.NCPU}`,
      `Total Memory: ${gib(i.MemTotal)}`,
      `Name: ${i.Name}`,
      `Strata Root Dir: ${i.StrataRootDir}`,
    ];
    console.log(lines.join('\n'));
  });
}
