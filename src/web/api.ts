// The JSON API the page uses (and scripts can use, with the same login): browse, search, edit values,
// add and delete instances, notification attributes, and the failover status. Every change is one
// data-model transaction with origin 'web'; errors keep the core's kind and per-item details.
// docs/web-api.md documents each route.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DataModel } from '../datamodel/index.ts';
import { toHttp } from './errors.ts';
import { publicChange } from './events.ts';
import { failoverStatus, objectView, search, treeChildren } from './view.ts';

const pathQuery = {
  type: 'object', required: ['path'], additionalProperties: false,
  properties: { path: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;

/** Runs a data-model call; a DmError becomes its HTTP status with the error body. */
async function guarded<T>(reply: FastifyReply, fn: () => T): Promise<T | FastifyReply> {
  try {
    return fn();
  } catch (err) {
    const [status, body] = toHttp(err);
    return reply.code(status).send(body);
  }
}

export function registerApi(app: FastifyInstance, dm: DataModel): void {
  app.get('/api/tree', { schema: { querystring: pathQuery } }, (req, reply) =>
    guarded(reply, () => ({ path: (req.query as { path: string }).path, children: treeChildren(dm, (req.query as { path: string }).path) })));

  app.get('/api/object', { schema: { querystring: pathQuery } }, (req, reply) =>
    guarded(reply, () => objectView(dm, (req.query as { path: string }).path)));

  app.get('/api/search', {
    schema: {
      querystring: {
        type: 'object', required: ['q'], additionalProperties: false,
        properties: { q: { type: 'string', maxLength: 256 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } },
      },
    },
  }, (req, reply) => guarded(reply, () => {
    const q = req.query as { q: string; limit: number };
    return search(dm, q.q, q.limit);
  }));

  // One atomic set of one or more values (all or nothing, like CWMP SetParameterValues).
  app.put('/api/values', {
    schema: {
      body: {
        type: 'object', required: ['values'], additionalProperties: false,
        properties: { values: { type: 'object', minProperties: 1, maxProperties: 1024, additionalProperties: { type: 'string', maxLength: 65535 } } },
      },
    },
  }, (req, reply) => guarded(reply, () => {
    const { event } = dm.set((req.body as { values: Record<string, string> }).values, 'web');
    return { changes: publicChange(dm, event).changes };
  }));

  app.post('/api/instances', {
    schema: {
      body: {
        type: 'object', required: ['table'], additionalProperties: false,
        properties: { table: { type: 'string', minLength: 1, maxLength: 1024 }, values: { type: 'object', additionalProperties: { type: 'string' } } },
      },
    },
  }, (req, reply) => guarded(reply, () => {
    const body = req.body as { table: string; values?: Record<string, string> };
    const added = dm.add(body.table, 'web', body.values);
    reply.code(201);
    return added;
  }));

  app.delete('/api/instances', { schema: { querystring: pathQuery } }, (req, reply) =>
    guarded(reply, () => ({ deleted: dm.delete((req.query as { path: string }).path, 'web').event.deleted })));

  // Notification attribute (TR-069 SetParameterAttributes semantics: 0 off, 1 passive, 2 active).
  app.put('/api/attributes', {
    schema: {
      body: {
        type: 'object', required: ['path', 'notification'], additionalProperties: false,
        properties: { path: { type: 'string', minLength: 1, maxLength: 1024 }, notification: { type: 'integer', enum: [0, 1, 2] } },
      },
    },
  }, (req, reply) => guarded(reply, () => {
    const body = req.body as { path: string; notification: number };
    dm.setAttributes([{ path: body.path, notification: body.notification }]);
    return { attributes: dm.getAttributes(body.path) };
  }));

  app.get('/api/status', (_req, reply) => guarded(reply, () => failoverStatus(dm)));
}
