export { AdamW, type AdamWOptions } from './adamw';
