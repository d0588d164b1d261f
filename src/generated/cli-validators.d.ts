// Types of the generated validators (tools/gen-validators.ts): ajv's ValidateFunction, types only.
import type { ValidateFunction } from 'ajv';

export declare const envelope: ValidateFunction;
export declare const cmd_get: ValidateFunction;
export declare const cmd_dump: ValidateFunction;
export declare const cmd_names: ValidateFunction;
export declare const cmd_set: ValidateFunction;
export declare const cmd_add: ValidateFunction;
export declare const cmd_delete: ValidateFunction;
export declare const cmd_attrs: ValidateFunction;
export declare const cmd_operate: ValidateFunction;
