// Types of the generated validator (tools/gen-validators.ts): ajv's ValidateFunction, types only.
import type { ValidateFunction } from 'ajv';

export declare const validateConfig: ValidateFunction;
