/**
 * The files of a model folder, by name, with its card: what a device writes to disk (model-dir.ts) and a
 * page packs into a download. The card comes last: a folder with a card is a whole one.
 */
import { BpeTokenizer, type BpeTokenizerJson } from '../data';
import { encodeUtf8 } from '../data/utf8';
import type { GptConfig } from './gpt';
import { buildInferenceGraph } from './inference';
import {
  completeModelCard,
  MODEL_FILES,
  type ModelCard,
  type ModelCardDraft,
  ModelCardError,
  renderModelCardReadme,
} from './model-card';

export interface ModelFolderContents {
  readonly config: GptConfig;
  /** The parameters in gptParams order. */
  readonly params: readonly Float32Array[];
  readonly tokenizer: BpeTokenizerJson;
  readonly card: ModelCardDraft;
}

export function modelFolderFiles(contents: ModelFolderContents): {
  files: [name: string, bytes: Uint8Array][];
  card: ModelCard;
} {
  const { config, params, tokenizer } = contents;
  if (tokenizer.vocabSize !== config.vocabSize)
    throw new ModelCardError(
      `the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary is ${config.vocabSize}`,
    );
  BpeTokenizer.fromJSON(tokenizer);
  const model = buildInferenceGraph(config, params);
  const tokenizerBytes = utf8(`${JSON.stringify(tokenizer)}\n`);
  const card = completeModelCard(contents.card, config, {
    [MODEL_FILES.model]: model,
    [MODEL_FILES.tokenizer]: tokenizerBytes,
  });
  return {
    files: [
      [MODEL_FILES.model, model],
      [MODEL_FILES.tokenizer, tokenizerBytes],
      [MODEL_FILES.readme, utf8(renderModelCardReadme(card))],
      [MODEL_FILES.card, utf8(`${JSON.stringify(card, null, 2)}\n`)],
    ],
    card,
  };
}

const utf8 = (text: string) => Uint8Array.from(encodeUtf8(text));
