export { rolloutWorkflow } from './rolloutWorkflow';
export { reconcileFleetWorkflow, reconcileWorkflow } from './reconcileWorkflow';
