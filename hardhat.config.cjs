// Hardhat serves only as a JSON-RPC development node for the contract tests (`npx hardhat node`);
// contracts are compiled by marketplace/solc.py, not by hardhat. The fork matches the EVM
// version the contracts are compiled for (marketplace.solc.EVM_VERSION).
module.exports = {
  networks: {
    hardhat: {
      hardfork: "cancun",
      chainId: 31337,
    },
  },
};
