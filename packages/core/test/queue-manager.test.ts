import { describe, expect, it } from 'vitest';
import { ConfigError, QueueManager } from '../src/index.js';
import { createSyncLikeDriver } from './fixtures/counting-driver.js';

describe('QueueManager', () => {
  it('creates connections lazily, caches them and closes them together', async () => {
    let created = 0;
    const closed: string[] = [];
    const definition = (name: string) => ({
      driver: 'fake',
      create: () => {
        created += 1;
        return createSyncLikeDriver(() => closed.push(name));
      },
    });
    const manager = new QueueManager({ default: 'a', connections: { a: definition('a'), b: definition('b') } });
    expect(created).toBe(0);
    const [first, second] = await Promise.all([manager.connection(), manager.connection('a')]);
    expect(first).toBe(second);
    await manager.connection('b');
    expect(created).toBe(2);
    await manager.close();
    expect(closed.sort()).toEqual(['a', 'b']);
    await expect(manager.connection()).rejects.toBeInstanceOf(ConfigError);
  });

  it('names what is wrong in a config', async () => {
    expect(() => new QueueManager({ connections: {} })).toThrowError('`connections` is empty');
    expect(() => new QueueManager({ connections: { x: {} as never } })).toThrowError('connections.x');
    expect(
      () => new QueueManager({ default: 'nope', connections: { x: { driver: 'f', create: () => createSyncLikeDriver() } } }),
    ).toThrowError('default connection "nope"');
    const manager = new QueueManager({ connections: { x: { driver: 'f', create: () => createSyncLikeDriver() } } });
    await expect(manager.connection('y')).rejects.toThrowError('unknown connection "y"');
  });
});
