/**
 * The "Try the model" box of the join page and the overview: a prompt and sampling settings, and the text
 * the model writes from them, shown token by token. Each Generate takes the parameters as they are then
 * (a copy of this tab's, or the run's X̄ collected from its members; training goes on meanwhile) and
 * samples in the generation worker.
 *
 * Stable hooks for tests: #try-form, #try-prompt, #try-tokens, #try-temperature, #try-top-k,
 * #try-generate; #try-output (data-tokens: tokens drawn so far) with .try-prompt and .try-generated;
 * #try-status[data-state] idle | preparing | sampling | done | failed.
 */
import './try-model.css';
import type { GenerationEvent, GenerationRequest, ModelSnapshot } from './messages';

export const TRY_DEFAULTS = { tokens: 100, temperature: 0.8, topK: 40 } as const;
/** Each token runs the whole context window: a few thousand is already a long wait on wasm. */
export const MAX_TRY_TOKENS = 2000;

export interface TryOptions {
  readonly prompt: string;
  readonly tokens: number;
  readonly temperature: number;
  /** Undefined: sample from the whole vocabulary (the field says 0). */
  readonly topK?: number;
}

/** The settings in the fields, or what is wrong with them (the field named). */
export function readTryOptions(fields: {
  prompt: string;
  tokens: string;
  temperature: string;
  topK: string;
}): TryOptions | { error: string } {
  const tokens = Number(fields.tokens.trim() || TRY_DEFAULTS.tokens);
  if (!(Number.isInteger(tokens) && tokens >= 1 && tokens <= MAX_TRY_TOKENS))
    return { error: `tokens must be a whole number from 1 to ${MAX_TRY_TOKENS}, not "${fields.tokens}"` };
  const temperature = Number(fields.temperature.trim() || TRY_DEFAULTS.temperature);
  if (!(Number.isFinite(temperature) && temperature >= 0))
    return {
      error: `temperature must be a number ≥ 0 (0: the most likely token), not "${fields.temperature}"`,
    };
  const topK = Number(fields.topK.trim() || TRY_DEFAULTS.topK);
  if (!(Number.isInteger(topK) && topK >= 0))
    return { error: `top-k must be a whole number ≥ 0 (0: the whole vocabulary), not "${fields.topK}"` };
  return { prompt: fields.prompt, tokens, temperature, ...(topK > 0 ? { topK } : {}) };
}

interface TryElements {
  readonly form: HTMLFormElement;
  readonly prompt: HTMLTextAreaElement;
  readonly tokens: HTMLInputElement;
  readonly temperature: HTMLInputElement;
  readonly topK: HTMLInputElement;
  readonly generate: HTMLButtonElement;
  readonly output: HTMLElement;
  readonly status: HTMLElement;
}

/** The box's form, output and status, built into `container` (one page has one box). */
function build(container: HTMLElement): TryElements {
  container.innerHTML = `
    <form id="try-form">
      <label class="try-prompt-field">prompt
        <textarea id="try-prompt" rows="2" placeholder="The jury said (empty: a fresh document)"></textarea>
      </label>
      <div class="try-settings">
        <label>tokens <input id="try-tokens" type="number" min="1" max="${MAX_TRY_TOKENS}" step="1" /></label>
        <label>temperature <input id="try-temperature" type="number" min="0" step="0.05" /></label>
        <label title="0: the whole vocabulary">top-k <input id="try-top-k" type="number" min="0" step="1" /></label>
        <button id="try-generate" type="submit">Generate</button>
      </div>
    </form>
    <p id="try-output" aria-live="polite"></p>
    <p id="try-status" data-state="idle"></p>`;
  const get = <T extends HTMLElement>(id: string) => container.querySelector(`#${id}`) as T;
  return {
    form: get('try-form'),
    prompt: get('try-prompt'),
    tokens: get('try-tokens'),
    temperature: get('try-temperature'),
    topK: get('try-top-k'),
    generate: get('try-generate'),
    output: get('try-output'),
    status: get('try-status'),
  };
}

type Status = 'idle' | 'preparing' | 'sampling' | 'done' | 'failed';

export class TryModel {
  private worker: Worker | undefined;
  /** The request whose text is shown; events of any other are stale. */
  private current = -1;
  private nextId = 0;
  private step = 0;
  private readonly promptText: HTMLSpanElement;
  private readonly generated: HTMLSpanElement;

  private readonly el: TryElements;

  constructor(
    container: HTMLElement,
    /** The parameters to sample from, as they are now. */
    private readonly snapshot: () => Promise<ModelSnapshot>,
    /** What the box samples from, for its first line. */
    private readonly source = 'this tab’s parameters',
  ) {
    const el = build(container);
    this.el = el;
    this.promptText = span('try-prompt');
    this.generated = span('try-generated');
    el.output.replaceChildren(this.promptText, this.generated);
    el.output.dataset.tokens = '0';
    el.tokens.value ||= String(TRY_DEFAULTS.tokens);
    el.temperature.value ||= String(TRY_DEFAULTS.temperature);
    el.topK.value ||= String(TRY_DEFAULTS.topK);
    el.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.start().catch((error: Error) => this.show('failed', error.message));
    });
    this.show('idle', `Generate samples text from ${source} as they are now.`);
  }

  private async start(): Promise<void> {
    const options = readTryOptions({
      prompt: this.el.prompt.value,
      tokens: this.el.tokens.value,
      temperature: this.el.temperature.value,
      topK: this.el.topK.value,
    });
    if ('error' in options) {
      this.show('failed', options.error);
      return;
    }
    const id = this.nextId++;
    this.current = id;
    this.el.generate.disabled = true;
    this.promptText.textContent = options.prompt;
    this.generated.replaceChildren();
    this.el.output.dataset.tokens = '0';
    this.show('preparing', `taking ${this.source}…`);
    const snapshot = await this.snapshot();
    this.step = snapshot.step;
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    const request: GenerationRequest = { type: 'generate', id, snapshot, seed, ...options };
    this.generator().postMessage(
      request,
      snapshot.params.map((p) => p.buffer as ArrayBuffer),
    );
  }

  private generator(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL('./generation-worker.ts', import.meta.url), { type: 'module' });
      this.worker.onmessage = (event: MessageEvent<GenerationEvent>) => this.receive(event.data);
      this.worker.onerror = (event) => {
        this.show('failed', `the generation worker failed: ${event.message}`);
        // A fresh worker next time.
        this.worker?.terminate();
        this.worker = undefined;
      };
    }
    return this.worker;
  }

  private receive(event: GenerationEvent): void {
    if (event.id !== this.current) return;
    const from = this.step === 0 ? 'the untrained parameters' : `the parameters after step ${this.step}`;
    switch (event.type) {
      case 'started':
        this.show('sampling', `sampling from ${from}…`);
        return;
      case 'text':
        if (event.text) this.generated.append(event.text);
        this.el.output.dataset.tokens = String(event.tokens);
        return;
      case 'done': {
        const seconds = event.ms / 1000;
        const rate = seconds > 0 ? ` (${(event.tokens / seconds).toFixed(1)} tokens/s)` : '';
        this.show(
          'done',
          `${event.tokens} tokens in ${seconds.toFixed(2)} s${rate}, from ${from}, on onnxruntime-web (wasm)`,
        );
        return;
      }
      case 'failed':
        this.show('failed', event.message);
        return;
    }
  }

  private show(state: Status, text: string): void {
    this.el.status.dataset.state = state;
    this.el.status.textContent = text;
    if (state === 'done' || state === 'failed' || state === 'idle') this.el.generate.disabled = false;
  }
}

function span(className: string): HTMLSpanElement {
  const node = document.createElement('span');
  node.className = className;
  return node;
}
