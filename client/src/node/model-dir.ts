/**
 * A trained model as a folder: `model.onnx` (the inference graph with its weights), `tokenizer.json`,
 * `model-card.json` (what it is, how it was trained, its validation loss and how to measure it, the
 * files' checksums) and `README.md` (the card for people). A folder is written whole or not at all (a
 * temporary sibling, flushed, then renamed into place) and never over anything; reading it checks every
 * file and says which one is wrong and how.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BpeTokenizer } from '@demuon/shared/data';
import {
  CHECKSUMMED_FILES,
  fileEntry,
  type GptConfig,
  inferenceGraphProblem,
  MODEL_FILES,
  type ModelCard,
  ModelCardError,
  type ModelFolderContents,
  modelFolderFiles,
  parseModelCard,
} from '@demuon/shared/model';

/** Why a folder cannot be written or read as a model; the message names the folder or file. */
export class ModelDirError extends Error {}

export type ModelDirContents = ModelFolderContents;

export interface ModelDir {
  readonly dir: string;
  readonly card: ModelCard;
  readonly config: GptConfig;
  readonly tokenizer: BpeTokenizer;
  /** The bytes of model.onnx, checked against the card. */
  readonly onnx: Uint8Array;
}

/** Throws a ModelDirError unless `dir` is absent or an empty folder: a model folder is never overwritten. */
export function checkModelDirFree(dir: string): void {
  const path = resolve(dir);
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory())
    throw new ModelDirError(`cannot write a model to ${path}: it exists and is not a folder`);
  const entries = readdirSync(path);
  if (entries.length > 0)
    throw new ModelDirError(
      `cannot write a model to ${path}: the folder is not empty (${entries.length} entries); ` +
        'choose a new folder, nothing was overwritten',
    );
}

/** Writes the model folder and returns its card; throws a ModelDirError, having written nothing, when it cannot. */
export function writeModelDir(dir: string, contents: ModelDirContents): ModelCard {
  const path = resolve(dir);
  checkModelDirFree(path);
  let folder: ReturnType<typeof modelFolderFiles>;
  try {
    folder = modelFolderFiles(contents);
  } catch (error) {
    if (error instanceof ModelCardError) throw new ModelDirError(error.message);
    throw error;
  }
  const { files, card } = folder;

  const parent = dirname(path);
  mkdirSync(parent, { recursive: true });
  const temporary = join(parent, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  mkdirSync(temporary);
  try {
    for (const [name, bytes] of files) writeFlushed(join(temporary, name), bytes);
    flushFolder(temporary);
    moveIntoPlace(temporary, path);
    flushFolder(parent);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
  return card;
}

/** The model in `dir`, every file checked; a ModelDirError names the file and what is wrong with it. */
export function readModelDir(dir: string): ModelDir {
  const path = resolve(dir);
  if (!existsSync(path)) throw new ModelDirError(`model folder ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new ModelDirError(`${path} is a file, not a model folder`);
  const cardPath = join(path, MODEL_FILES.card);
  if (!existsSync(cardPath))
    throw new ModelDirError(`${path} is not a model folder: it has no ${MODEL_FILES.card}`);
  let card: ModelCard;
  try {
    card = parseModelCard(JSON.parse(readFileSync(cardPath, 'utf8')));
  } catch (error) {
    const reason = error instanceof ModelCardError ? error.message : `not JSON (${(error as Error).message})`;
    throw new ModelDirError(`${cardPath}: ${reason}`);
  }

  const bytes: Record<string, Uint8Array> = {};
  for (const name of CHECKSUMMED_FILES) {
    const file = join(path, name);
    if (!existsSync(file)) throw new ModelDirError(`${file} is missing (the card lists it)`);
    bytes[name] = new Uint8Array(readFileSync(file));
    const found = fileEntry(bytes[name]);
    const expected = card.files[name];
    if (found.bytes !== expected.bytes)
      throw new ModelDirError(
        `${file} is damaged: it has ${found.bytes} bytes, the card says ${expected.bytes}`,
      );
    if (found.crc32 !== expected.crc32)
      throw new ModelDirError(
        `${file} is damaged: its CRC-32 is ${found.crc32}, the card says ${expected.crc32}`,
      );
  }

  const tokenizerPath = join(path, MODEL_FILES.tokenizer);
  let tokenizer: BpeTokenizer;
  try {
    tokenizer = BpeTokenizer.fromJSON(new TextDecoder().decode(bytes[MODEL_FILES.tokenizer]));
  } catch (error) {
    throw new ModelDirError(`${tokenizerPath}: ${(error as Error).message}`);
  }
  if (tokenizer.vocabSize !== card.model.vocabSize)
    throw new ModelDirError(
      `${tokenizerPath} does not fit the model: the tokenizer has ${tokenizer.vocabSize} ids, ` +
        `the model's vocabulary is ${card.model.vocabSize}`,
    );
  const modelPath = join(path, MODEL_FILES.model);
  const problem = inferenceGraphProblem(bytes[MODEL_FILES.model], card.model);
  if (problem) throw new ModelDirError(`${modelPath} does not fit the card's model: ${problem}`);
  return { dir: path, card, config: card.model, tokenizer, onnx: bytes[MODEL_FILES.model] };
}

function writeFlushed(file: string, bytes: Uint8Array): void {
  const fd = openSync(file, 'wx');
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a folder's entries durable (a no-op where folders cannot be opened, as on Windows). */
function flushFolder(folder: string): void {
  let fd: number;
  try {
    fd = openSync(folder, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a folder; the files themselves are flushed.
  } finally {
    closeSync(fd);
  }
}

/**
 * Renames the finished folder onto `path`. POSIX rename replaces an empty folder and fails on a non-empty
 * one, so a folder filled by someone else since the check is never overwritten.
 */
function moveIntoPlace(temporary: string, path: string): void {
  try {
    renameSync(temporary, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw error;
    checkModelDirFree(path);
    // Empty, on a platform whose rename does not replace folders: remove it and try once more.
    rmdirSync(path);
    renameSync(temporary, path);
  }
}
