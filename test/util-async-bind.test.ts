// The cheaper AsyncResource#bind behaves as Node's own: each check runs against Node's bind, then
// against the installed one.
import t, { type Test } from 'tap';
import { AsyncResource, executionAsyncId, triggerAsyncId } from 'node:async_hooks';
import { bindCallsDeprecate, installCheapAsyncBind } from '../src/util/async-bind.js';

type BindFn = (this: AsyncResource, fn: (...a: unknown[]) => unknown, thisArg?: unknown) => unknown;
const nodeBind = AsyncResource.prototype.bind as unknown as BindFn;

function checks(t: Test, name: string, bind: BindFn): void {
  t.test(name, async (t) => {
    const r = new AsyncResource('Checked');
    const seen: unknown[] = [];
    function probe(this: unknown, a: unknown, b: unknown) {
      seen.push([executionAsyncId(), triggerAsyncId(), this, a, b]);
      return 'out';
    }
    const unbound = bind.call(r, probe) as ((...a: unknown[]) => unknown) & { asyncResource: unknown };
    const holder = { m: unbound };
    t.equal(holder.m(1, 2), 'out', 'the return value passes through');
    t.strictSame(
      seen.pop(),
      [r.asyncId(), r.triggerAsyncId(), holder, 1, 2],
      "in the resource's scope, the caller's this",
    );
    const self = {};
    const fixed = bind.call(r, probe, self) as (...a: unknown[]) => unknown;
    fixed.call({ other: true }, 3);
    t.strictSame(seen.pop(), [r.asyncId(), r.triggerAsyncId(), self, 3, undefined], 'a given this wins');
    t.equal(unbound.length, 2, 'the length of the function');
    t.equal(Object.getOwnPropertyDescriptor(unbound, 'length')?.writable, false);
    const d = Object.getOwnPropertyDescriptor(unbound, 'asyncResource');
    t.ok(d?.enumerable && d.configurable && d.get && d.set, 'asyncResource is an accessor');
    t.throws(() => bind.call(r, 42 as unknown as () => void), TypeError);
  });
}

t.test("Node's own bind", async (t) => checks(t, 'behaviour', nodeBind));

t.test('installed where Node builds deprecate() wrappers per call', async (t) => {
  const costly = bindCallsDeprecate();
  t.equal(installCheapAsyncBind(), costly);
  t.equal(installCheapAsyncBind(), costly, 'twice is once');
  if (!costly) return;
  t.notOk(bindCallsDeprecate(), 'the deprecate() wrappers are gone');
  t.not(AsyncResource.prototype.bind, nodeBind);
  checks(t, 'behaviour', AsyncResource.prototype.bind as unknown as BindFn);

  t.test('asyncResource: the resource, settable, one deprecation warning', async (t) => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.teardown(() => void process.off('warning', onWarning));
    const r = new AsyncResource('Checked');
    const f = r.bind(() => 1) as unknown as { asyncResource: unknown };
    t.equal(f.asyncResource, r);
    t.equal(f.asyncResource, r);
    const other = new AsyncResource('Other');
    f.asyncResource = other;
    t.equal(f.asyncResource, other);
    await new Promise((resolve) => setImmediate(resolve));
    t.strictSame(
      warnings.map((w) => [w.name, (w as Error & { code?: string }).code]),
      [['DeprecationWarning', 'DEP0172']],
    );
  });

  t.test('the static AsyncResource.bind uses it', async (t) => {
    let id = -1;
    const f = AsyncResource.bind(() => (id = executionAsyncId()));
    f();
    t.equal((f as unknown as { asyncResource: AsyncResource }).asyncResource.asyncId(), id);
  });
});
