/**
 * The overview's "The model" panel: "Download the model" collects the members' parameters, averages them
 * (X̄, the model the papers evaluate) and downloads the model folder as a zip; the Try box samples from
 * X̄ as the members hold it at each Generate. What does the work is loaded on first use (run-model.ts).
 *
 * Stable hooks for tests: #download-model, #model-status[data-state] idle | collecting | packing | done |
 * failed, and the Try box's (see ../try-model.ts).
 */
import { TryModel } from '../try-model';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type State = 'idle' | 'collecting' | 'packing' | 'done' | 'failed';

function show(state: State, text: string): void {
  const status = $('model-status');
  status.dataset.state = state;
  status.textContent = text;
}

const runModel = () => import('./run-model');

export function setupModelPanel(runId: string): void {
  const download = $<HTMLButtonElement>('download-model');
  download.addEventListener('click', () => {
    download.disabled = true;
    downloadModel(runId)
      .catch((error: Error) => show('failed', error.message))
      .finally(() => {
        download.disabled = false;
      });
  });
  new TryModel(
    $('try-box'),
    async () => (await (await runModel()).collectRunModel(runId)).snapshot,
    'the average of the members’ parameters',
  );
}

async function downloadModel(runId: string): Promise<void> {
  show('collecting', 'asking the members for their parameters…');
  const { collectRunModel, packRunModel } = await runModel();
  const model = await collectRunModel(runId);
  const missing = model.missing.length > 0 ? ` (${model.missing.length} sent nothing in time)` : '';
  show('packing', `averaging ${model.peers.length} members’ parameters${missing} and measuring the model…`);
  const packed = await packRunModel(model);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([packed.zip as BlobPart], { type: 'application/zip' }));
  link.download = `${packed.folder}.zip`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  show(
    'done',
    `${packed.folder}.zip: the average of ${model.peers.length} members at step ${model.snapshot.step}${missing}, ` +
      `validation loss ${packed.valLoss.toFixed(4)}. Unzip it and run npm run generate -- --model ${packed.folder}`,
  );
}
