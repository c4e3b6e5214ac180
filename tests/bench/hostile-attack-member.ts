/**
 * Attack classes `member` and `resume`. `member`: a joined member (it has the run token) sending absurd
 * `progress`, junk `signal`s relayed to honest peers (garbage SDP and candidates), signals the schema
 * refuses, false neighbour reports, absurd metrics and barriers. `resume`: `join` with `resume` of an
 * honest peer's id and guessed secrets.
 */
import type { Socket } from 'socket.io-client';
import { errorText, pick, sleep } from './hostile-attack-tools';
import { connectSocket, emitCounted, joinRun, MemberView } from './hostile-membership';
import type { Tally, Target } from './hostile-tally';

export async function attackMember(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  while (Date.now() < until) {
    const m = await joinRun(target, tally, 'hostile-member');
    if (!m) {
      await sleep(500);
      continue;
    }
    const { socket } = m;
    let i = 0;
    while (Date.now() < until && !m.evicted && !m.disconnected) {
      const others = await view.others(m.peerId);
      const honest = others.length > 0 ? pick(others).peer : 'nobody';
      const garbage = `garbage ${Math.random().toString(36).repeat(8)}`;
      const attacks: [string, string, unknown][] = [
        ['progress 1e15', 'progress', { step: 1e15 }],
        ['progress -1', 'progress', { step: -1 }],
        ['progress 2^53+2', 'progress', { step: 2 ** 53 + 2 }],
        ['progress 1.5', 'progress', { step: 1.5 }],
        ['progress forward (20)', 'progress', { step: 20 }],
        ['progress backwards (3)', 'progress', { step: 3 }],
        ['signal: offer, garbage sdp', 'signal', { to: honest, data: { type: 'offer', sdp: garbage } }],
        ['signal: answer, garbage sdp', 'signal', { to: honest, data: { type: 'answer', sdp: garbage } }],
        [
          'signal: candidate, garbage',
          'signal',
          { to: honest, data: { type: 'candidate', candidate: { candidate: garbage, sdpMLineIndex: 7 } } },
        ],
        ['signal: answer to nobody', 'signal', { to: 'nobody-here', data: { type: 'answer', sdp: 'v=0' } }],
        ['signal: to itself', 'signal', { to: m.peerId, data: { type: 'offer', sdp: garbage } }],
        ['signal (refused): offer without sdp', 'signal', { to: honest, data: { type: 'offer' } }],
        ['signal (refused): pranswer', 'signal', { to: honest, data: { type: 'pranswer', sdp: 'x' } }],
        ['signal (refused): renegotiate', 'signal', { to: honest, data: { renegotiate: true } }],
        ['signal (refused): string data', 'signal', { to: honest, data: garbage }],
        [
          'signal (refused): 13000-char sdp',
          'signal',
          { to: honest, data: { type: 'offer', sdp: 'x'.repeat(13_000) } },
        ],
        [
          'neighbour-missed about an honest peer',
          'neighbour-missed',
          { peer: honest, epoch: m.epoch, step: 0, reason: 'silent' },
        ],
        ['neighbour-status of an honest peer', 'neighbour-status', { peer: honest }],
        [
          'metrics with absurd values',
          'metrics',
          {
            step: 1e15,
            epoch: m.epoch,
            bytesSent: 1e300,
            bytesReceived: 1e300,
            trainLoss: -1e300,
            links: [],
          },
        ],
        ['epoch-ready absurd barrier', 'epoch-ready', { epoch: m.epoch + 1000, barrier: 1e15 }],
      ];
      // Two events per 50 ms tick, acks counted as they come: 40 events/s, under the rate limit.
      for (let k = 0; k < 2; k++) {
        const [kind, event, payload] = attacks[i++ % attacks.length];
        void emitCounted(socket, tally, kind, event, payload);
      }
      await sleep(50);
    }
    await sleep(300);
    m.stop();
    await sleep(300);
  }
}

export async function attackResume(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  while (Date.now() < until) {
    let socket: Socket;
    try {
      socket = await connectSocket(target.url);
    } catch (error) {
      tally.answer('connect', `connect failed: ${errorText(error).slice(0, 40)}`);
      await sleep(300);
      continue;
    }
    socket.on('epoch', () => tally.answer('after a resume', 'got an epoch'));
    while (Date.now() < until && socket.connected) {
      const others = await view.others();
      const honest = others.length > 0 ? pick(others).peer : 'nobody';
      const base = { runId: target.runId, platform: 'node', backend: 'cpu', name: 'hostile-resume' };
      const attempts: [string, unknown][] = [
        [
          'resume honest id, secret "guess"',
          { ...base, token: target.token, resume: { peerId: honest, secret: 'guess' } },
        ],
        [
          'resume honest id, 64 hex guess',
          {
            ...base,
            token: target.token,
            resume: { peerId: honest, secret: Math.random().toString(16).slice(2).padEnd(64, '0') },
          },
        ],
        [
          'resume honest id, 256-char secret',
          { ...base, token: target.token, resume: { peerId: honest, secret: 's'.repeat(256) } },
        ],
        [
          'resume unknown id',
          { ...base, token: target.token, resume: { peerId: 'nobody-here', secret: 'guess' } },
        ],
        [
          'resume honest id, wrong token',
          { ...base, token: 'guess', resume: { peerId: honest, secret: 'guess' } },
        ],
        [
          'resume honest id, no secret (refused)',
          { ...base, token: target.token, resume: { peerId: honest } },
        ],
      ];
      const [kind, payload] = pick(attempts);
      const reply = await emitCounted(socket, tally, kind, 'join', payload);
      if (reply?.ok) {
        // A hijack: the honest peer's place was handed over. Give it back at once.
        tally.answer(kind, 'HIJACKED an honest place');
        tally.note(`resume as ${honest} was accepted (${kind})`);
        socket.emit('leave', {});
        break;
      }
      await sleep(40);
    }
    socket.close();
  }
}
