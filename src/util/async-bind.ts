// Node 20's AsyncResource#bind wraps a getter and a setter in deprecate() on every call (for the
// deprecated `asyncResource` property, DEP0172), and http2 binds one function per request: on the put
// path that, and the garbage it leaves, was about a fifth of the client's CPU per put. This replaces it
// with the same binding whose property accessors are shared: the bound function runs in the resource's
// async scope with the same `this`, has the same `length`, and reading `asyncResource` still warns once.
// Installed only where Node's own bind calls deprecate(), once per process.
import { AsyncResource } from 'node:async_hooks';

const kResource = Symbol('asyncResource');
let warned = false;

type Bound = ((...args: unknown[]) => unknown) & { [kResource]?: AsyncResource };

const asyncResourceProperty: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: Bound) {
    if (!warned) {
      warned = true;
      process.emitWarning('The asyncResource property on bound functions is deprecated', {
        type: 'DeprecationWarning',
        code: 'DEP0172',
      });
    }
    return this[kResource];
  },
  set(this: Bound, v: AsyncResource) {
    this[kResource] = v;
  },
};

function bindTo(resource: AsyncResource, fn: (...a: unknown[]) => unknown, thisArg: unknown): Bound {
  if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
  let bound: Bound;
  if (thisArg === undefined) {
    bound = function (this: unknown, ...args: unknown[]) {
      return resource.runInAsyncScope(fn, this, ...args);
    };
  } else bound = resource.runInAsyncScope.bind(resource, fn, thisArg) as Bound;
  bound[kResource] = resource;
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
  Object.defineProperty(bound, 'asyncResource', asyncResourceProperty);
  return bound;
}

function bind(this: AsyncResource, fn: (...a: unknown[]) => unknown, thisArg?: unknown): Bound {
  return bindTo(this, fn, thisArg);
}

let installed = false;

/** Node's own AsyncResource#bind builds deprecate() wrappers per call */
export function bindCallsDeprecate(): boolean {
  return Function.prototype.toString.call(AsyncResource.prototype.bind).includes('deprecate(');
}

/** Installs the cheaper AsyncResource#bind when Node's own is the costly one; true when it is in place. */
export function installCheapAsyncBind(): boolean {
  if (installed) return true;
  if (!bindCallsDeprecate()) return false;
  AsyncResource.prototype.bind = bind as unknown as typeof AsyncResource.prototype.bind;
  installed = true;
  return true;
}
