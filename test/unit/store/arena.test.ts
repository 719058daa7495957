import t from 'tap';
import { BlockArena, SLAB_MIN_BYTES } from '../../../src/store/arena.js';

t.test('blocks are zeroed, disjoint, carved from slabs above the mmap threshold, and reused zeroed', async (t) => {
  const arena = new BlockArena(22_176); // 177 408 bytes: the default series layout
  t.ok(arena.blocksPerSlab * 22_176 * 8 >= SLAB_MIN_BYTES, 'a slab is at least 32 MiB');
  const blocks = Array.from({ length: arena.blocksPerSlab + 2 }, () => arena.alloc());
  t.equal(arena.reservedBytes, 2 * arena.blocksPerSlab * 22_176 * 8, 'a second slab once the first is full');
  t.equal(arena.used, blocks.length);
  blocks.forEach((b, i) => {
    t.equal(b.length, 22_176);
    b[0] = i + 1;
    b[b.length - 1] = -(i + 1);
  });
  t.ok(
    blocks.every((b, i) => b[0] === i + 1 && b[b.length - 1] === -(i + 1)),
    'writing every block left the others intact: no two overlap',
  );
  const freed = blocks[3]!;
  arena.free(freed);
  t.equal(arena.used, blocks.length - 1);
  const again = arena.alloc();
  t.equal(again, freed, 'the freed block is handed out again');
  t.ok(again.every((x) => x === 0), 'and it is zeroed');
  t.throws(() => arena.free(new Float64Array(3)), RangeError);
  t.throws(() => new BlockArena(0), RangeError);
});

t.test('a block larger than a slab gets a slab of its own', async (t) => {
  const arena = new BlockArena(SLAB_MIN_BYTES / 8 + 1);
  t.equal(arena.blocksPerSlab, 1);
});
