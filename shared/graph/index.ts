export {
  directedExponential,
  exponentialDegree,
  exponentialOffsets,
  onePeerExponential,
} from './exponential';
export {
  averagingMatrix,
  identityMatrix,
  inNeighbours,
  type MixingMatrix,
  matrixFromRows,
  matrixRows,
  multiply,
  outNeighbours,
  STOCHASTIC_TOLERANCE,
  selfWeight,
  validateMixing,
  weightAt,
} from './matrix';
export { checkEdges, degrees, type Edge, edgeListProblem, metropolisHastings } from './metropolis';
export {
  formatTopologySpec,
  parseTopologySpec,
  TOPOLOGY_FORMS,
  TopologyConfigSchema,
  type TopologyKind,
  type TopologySpec,
  TopologySpecSchema,
  topologySpec,
} from './spec';
export { periodSpectralRadius, singularValues, spectralGap, spectralRadius } from './spectral';
export {
  isStronglyConnected,
  linkedPeers,
  makeTopology,
  periodicTopology,
  periodProduct,
  staticTopology,
  type Topology,
  type TopologyOptions,
  topologyFromEdges,
} from './topology';
export {
  erdosRenyiEdges,
  isConnected,
  MAX_GRAPH_DRAWS,
  randomRegularEdges,
  ringEdges,
  squarestShape,
  starEdges,
  torusEdges,
} from './undirected';
