/**
 * The hostile member of `npm run bench:hostile`, in its own process (so that its CPU time and memory are
 * not the server's): the bench sends it one attack class at a time over IPC and gets back what it sent
 * and how the server and the peers answered. Nothing it meets (refusals, disconnects, exceptions) ends it.
 */
import { finishPhase, runAttack } from './hostile-attacks';
import type { FromMember, ToMember } from './hostile-tally';

const reply = (message: FromMember) => process.send?.(message);

// The attacker keeps going whatever its own code or its libraries throw; the bench sees what it sends.
process.on('uncaughtException', (error) => console.error(`hostile member: uncaught ${error.message}`));
process.on('unhandledRejection', (error) =>
  console.error(`hostile member: unhandled rejection ${String(error)}`),
);
process.on('disconnect', () => process.exit(0));

let queue = Promise.resolve();
process.on('message', (message: ToMember) => {
  queue = queue.then(async () => {
    if (message.type === 'attack') {
      const tally = await runAttack(message.cls, message.target, message.ms);
      reply({ type: 'done', cls: message.cls, tally });
    } else if (message.type === 'stop') {
      reply({ type: 'done', cls: 'unread-final', tally: await finishPhase() });
    }
  });
});
reply({ type: 'ready' });
