/** Chip models by name, as `--sensors` and board definitions name them. */
import type { I2CTarget } from './i2c-target';
import { SHT31Model } from './sht31/model';

export interface ChipOptions {
  address: number;
  /** Seed for the model's noise, so each device reads its own but reproducible values. */
  seed: number;
}

const MODELS: { [model: string]: (options: ChipOptions) => I2CTarget } = {
  sht31: ({ address, seed }) => new SHT31Model({ address, noise: { temperature: 0.05, humidity: 0.2, seed } }),
};

export const chipModels = (): string[] => Object.keys(MODELS);

export function createChip(model: string, options: ChipOptions): I2CTarget {
  const factory = MODELS[model];
  if (!factory) throw new Error(`no chip model "${model}"; known models: ${chipModels().join(', ')}`);
  return factory(options);
}
