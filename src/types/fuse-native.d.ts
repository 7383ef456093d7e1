// fuse-native 2.2.6 as patched by patches/fuse-native+2.2.6.patch (see README "fuse-native").
declare module 'fuse-native' {
  type Cb = (...args: any[]) => void;
  export interface FuseOptions {
    [k: string]: unknown;
    extraOptions?: string[];
  }
  export default class Fuse {
    constructor(mnt: string, ops: Record<string, Cb>, opts?: FuseOptions);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    static context: Uint32Array;
  }
}
