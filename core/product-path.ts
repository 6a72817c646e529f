/**
 * The product a repository path names under a customer's namespace, `<prefix>/<customer>/<product>/<repository>`
 * (ECR, ACR and Distribution paths under a product catalogue), or undefined: a path outside the
 * customer's namespace, the product folder itself, or a glob in the product's place. Without
 * `prefix`, the path's first segment is taken for it (a log names repositories, not the stack's prefix).
 */
export function productOfPath(path: string, customer: string, prefix?: string): string | undefined {
  const own = `${prefix ?? path.split("/")[0]}/${customer}/`;
  if (!path.startsWith(own)) return undefined;
  const rest = path.slice(own.length);
  const slash = rest.indexOf("/");
  const product = slash > 0 ? rest.slice(0, slash) : undefined;
  return product && product !== "*" && slash < rest.length - 1 ? product : undefined;
}
