import type { Args } from '../args.js';
import { Store } from '../board.js';
import { Ctx } from '../context.js';
import type { BoardPaths } from '../paths.js';

/** What every verb's handler gets: the invocation, the board it addresses, and its parsed arguments. */

interface Call {
  ctx: Ctx;
  bp: BoardPaths;
  store: Store;
  args: Args;
  prog: string;
  usage: string;
}

export type Handler = (call: Call) => Promise<number>;
