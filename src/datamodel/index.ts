// The only import point of the core (ARCHITECTURE.md): front-ends and handlers import from here, never
// from the store or the transaction internals.
export { DmError, isDmError, type DmErrorKind, type DmErrorDetail } from './errors.ts';
export { Path, toSchemaPath, type Segment, type SearchTerm, type SchemaPath } from './path.ts';
export { Schema, SCHEMA_DIR, tablePathOf, type ParamDef, type ObjectDef, type CommandDef, type EventDef, type Access, type Protocol } from './schema.ts';
export { canonical, canonicalIPv6, zeroValue, compareValues, type BaseType } from './types.ts';
export { DataModel, type ParamValue, type NameInfo, type Handler, type CommandFn, type EventOccurrence, type GetOptions, type StateAccess, type StartupInfo } from './model.ts';
export type { Recovery } from './store.ts';
export { DataDir, StartupError, type StartupErrorKind } from './datadir.ts';
export type { Change, ChangeEvent, ValueChange, Origin, ValidateContext } from './tx.ts';
export type { Node } from './tree.ts';
export { schemaOf } from './tree.ts';
export type { Attributes, AttributeChange } from './attributes.ts';
export { Emitter, DisposableStore, type Disposable } from './events.ts';
export { PluginHost, orderPlugins, type Plugin, type PluginContext } from './plugin.ts';
