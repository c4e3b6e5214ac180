/** The outbox of a run a process owns: order, and silence once the lease is lost. */
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../signaling-server/src/cluster/shared-run-stores';
import { silentLogger } from '../../signaling-server/src/log';

function deferred() {
  let resolve!: (ok: boolean) => void;
  const promise = new Promise<boolean>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('Outbox', () => {
  it('holds deliveries behind a write in flight, in the order they came', async () => {
    const outbox = new Outbox(silentLogger, () => true);
    const sent: string[] = [];
    outbox.deliver(() => sent.push('before'));
    const write = deferred();
    outbox.write(() => write.promise);
    outbox.deliver(() => sent.push('epoch'));
    outbox.deliver(() => sent.push('after'));
    await new Promise((r) => setTimeout(r, 5));
    expect(sent).toEqual(['before']);
    write.resolve(true);
    await outbox.drained();
    expect(sent).toEqual(['before', 'epoch', 'after']);
  });

  it('sends nothing after a write that found the lease lost', async () => {
    const outbox = new Outbox(silentLogger, () => true);
    const sent: string[] = [];
    outbox.write(async () => false);
    outbox.deliver(() => sent.push('epoch'));
    outbox.write(async () => {
      sent.push('second write');
      return true;
    });
    await outbox.drained();
    expect(sent).toEqual([]);
  });

  it('asks whether the lease holds before each delivery, and goes silent when it does not', async () => {
    let held = true;
    let asked = 0;
    const outbox = new Outbox(silentLogger, async () => {
      asked++;
      return held;
    });
    const sent: number[] = [];
    outbox.deliver(() => sent.push(1));
    await outbox.drained();
    held = false; // frozen past the lease: another process took the run meanwhile
    outbox.deliver(() => sent.push(2));
    await outbox.drained();
    held = true; // and once silent, it stays so: the run is another process's now
    outbox.deliver(() => sent.push(3));
    await outbox.drained();
    expect(sent).toEqual([1]);
    expect(asked).toBe(2);
  });

  it('goes on after a delivery that throws', async () => {
    const outbox = new Outbox(silentLogger, () => true);
    const sent: number[] = [];
    outbox.deliver(() => {
      throw new Error('a socket gone mid-send');
    });
    outbox.deliver(() => sent.push(2));
    await outbox.drained();
    expect(sent).toEqual([2]);
  });
});
